package jsontext

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// marshal is what encoding/json writes for s, HTML-escaped or not (a
// string always encodes).
func marshal(s string, escapeHTML bool) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendStringTable(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "\b\f\n\r\t\x00\x1f\x7f", "<a & b>", "é ✓ 中", "\u2028\u2029", "bad \xff\xfe utf8", "\xe2\x80"} {
		for _, html := range []bool{true, false} {
			require.Equal(t, string(marshal(s, html)), string(AppendString(nil, s, html)), "%q html=%v", s, html)
		}
	}
	require.Equal(t, `x"a"`, string(AppendString([]byte("x"), "a", true)), "appends to what is there")
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.String().Draw(t, "s")
		raw := rapid.SliceOf(rapid.Byte()).Draw(t, "raw") // invalid UTF-8 too
		for _, in := range []string{s, string(raw)} {
			html := rapid.Bool().Draw(t, "html")
			want := marshal(in, html)
			if got := AppendString(nil, in, html); !bytes.Equal(got, want) {
				t.Fatalf("%q (valid UTF-8: %v, html %v): got %s, want %s", in, utf8.ValidString(in), html, got, want)
			}
		}
	})
}

func FuzzAppendString(f *testing.F) {
	f.Add("a<b>&\u2028\xff", true)
	f.Fuzz(func(t *testing.T, s string, html bool) {
		if got, want := AppendString(nil, s, html), marshal(s, html); !bytes.Equal(got, want) {
			t.Fatalf("%q html=%v: got %s, want %s", s, html, got, want)
		}
	})
}
