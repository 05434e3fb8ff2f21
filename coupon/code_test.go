package coupon

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCodeRoundTrip(t *testing.T) {
	for _, n := range []int{MinCodeLength, 8, DefaultCodeLength, MaxCodeLength} {
		g, err := NewCodeGenerator(n)
		require.NoError(t, err)
		for range 200 {
			c := g.Next()
			require.Len(t, c, n)
			got, err := ParseCode(strings.ToLower(FormatCode(c)))
			require.NoError(t, err)
			assert.Equal(t, c, got)
		}
	}
	_, err := NewCodeGenerator(5)
	require.ErrorIs(t, err, ErrInvalidRequest)
	_, err = NewCodeGenerator(31)
	require.ErrorIs(t, err, ErrInvalidRequest)
}

func TestCodeAlphabetHasNoLookAlikes(t *testing.T) {
	assert.Len(t, CodeAlphabet, 31)
	for _, c := range "01OIL" {
		assert.NotContains(t, CodeAlphabet, string(c))
	}
	seen := map[rune]bool{}
	for _, c := range CodeAlphabet {
		assert.False(t, seen[c], "duplicate %c", c)
		seen[c] = true
	}
}

// Every single-character substitution and every swap of two different
// neighbours is refused as a bad check character, never accepted.
func TestCodeCheckCatchesEveryTypo(t *testing.T) {
	g, err := NewCodeGenerator(8)
	require.NoError(t, err)
	for range 50 {
		c := g.Next()
		for i := range len(c) {
			for _, r := range CodeAlphabet {
				if byte(r) == c[i] {
					continue
				}
				typo := c[:i] + string(r) + c[i+1:]
				_, err := ParseCode(typo)
				require.ErrorIs(t, err, ErrBadCheckCharacter, "%s -> %s", c, typo)
				require.ErrorIs(t, err, ErrMalformedCode)
			}
			if i+1 < len(c) && c[i] != c[i+1] {
				swapped := c[:i] + string(c[i+1]) + string(c[i]) + c[i+2:]
				_, err := ParseCode(swapped)
				require.ErrorIs(t, err, ErrBadCheckCharacter, "%s -> %s", c, swapped)
			}
		}
	}
}

func TestParseCodeMalformed(t *testing.T) {
	for _, s := range []string{"", "ABC", "7XK9-B2T0", "7XK9-B2TO", "7XK9-B2T1", "7XK9_B2T4", strings.Repeat("A", 31), strings.Repeat("-", 500)} {
		_, err := ParseCode(s)
		require.ErrorIs(t, err, ErrMalformedCode, "%q", s)
		assert.NotErrorIs(t, err, ErrBadCheckCharacter, "%q", s)
	}
}

func TestFormatCode(t *testing.T) {
	assert.Equal(t, "7XK9-B2T4", FormatCode("7XK9B2T4"))
	assert.Equal(t, "ABCD-EFGH-JK", FormatCode("ABCDEFGHJK"))
	assert.Equal(t, "ABC", FormatCode("ABC"))
}

// One million generated codes are all distinct (checked with a map) and
// all parse back.
func TestGenerateMillionUniqueCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	g, err := NewCodeGenerator(0)
	require.NoError(t, err)
	const n = 1_000_000
	seen := make(map[string]struct{}, n)
	for range n {
		seen[g.Next()] = struct{}{}
	}
	require.Len(t, seen, n)
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"7XK9-B2T4", "7xk9 b2t4", "", "----", "ABCDEFGHJKMN", "0O1IL", "ÄÖÜ-1234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCode(s)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedCode)
			return
		}
		require.GreaterOrEqual(t, len(c), MinCodeLength)
		require.LessOrEqual(t, len(c), MaxCodeLength)
		again, err := ParseCode(FormatCode(c))
		require.NoError(t, err)
		require.Equal(t, c, again)
		// a substitution in any position is caught
		i := len(c) / 2
		j := (strings.IndexByte(CodeAlphabet, c[i]) + 1) % len(CodeAlphabet)
		_, err = ParseCode(c[:i] + string(CodeAlphabet[j]) + c[i+1:])
		require.ErrorIs(t, err, ErrBadCheckCharacter)
	})
}

func BenchmarkCodeGenerate(b *testing.B) {
	g, err := NewCodeGenerator(0)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		_ = g.Next()
	}
}
