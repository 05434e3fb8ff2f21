package sqlstore

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"
)

// sliceCodec sends the very bytes pgx's own codecs send, for every slice
// it takes over, NULLs, empty and nil slices included; and leaves every
// other value (and the text format) to pgx.
func TestSliceCodecMatchesPgx(t *testing.T) {
	plain, fast := pgtype.NewMap(), pgtype.NewMap()
	registerSliceCodecs(fast)
	s1, s2 := "x", "päyload"
	t1 := time.Date(2026, 11, 23, 14, 0, 0, 123456789, time.FixedZone("x", 3600))
	t0 := time.Date(1970, 1, 1, 0, 0, 0, 999, time.UTC).Add(-time.Hour)
	cases := []struct {
		oid   uint32
		value any
	}{
		{pgtype.TextArrayOID, []string{"a", "", "hello, world", s2}},
		{pgtype.TextArrayOID, []string{}},
		{pgtype.TextArrayOID, []string(nil)},
		{pgtype.TextArrayOID, []*string{&s1, nil, &s2}},
		{pgtype.TextArrayOID, []*string{&s1}},
		{pgtype.TextArrayOID, []*string(nil)},
		{pgtype.Int2ArrayOID, []int16{0, -1, 32767, -32768}},
		{pgtype.Int4ArrayOID, []int32{7, -7, 1 << 30}},
		{pgtype.Int8ArrayOID, []int64{1, -1, 1 << 62, -1 << 63}},
		{pgtype.Int8ArrayOID, []int64{}},
		{pgtype.BoolArrayOID, []bool{true, false, true}},
		{pgtype.TimestamptzArrayOID, []time.Time{t1, t0, {}}},
		{pgtype.TimestamptzArrayOID, []*time.Time{&t1, nil, &t0}},
		{pgtype.TimestamptzArrayOID, []*time.Time{}},
	}
	for _, c := range cases {
		want, err := plain.Encode(c.oid, pgtype.BinaryFormatCode, c.value, []byte("prefix"))
		require.NoError(t, err)
		require.IsType(t, slicePlan{}, fast.PlanEncode(c.oid, pgtype.BinaryFormatCode, c.value), "%T", c.value)
		got, err := fast.Encode(c.oid, pgtype.BinaryFormatCode, c.value, []byte("prefix"))
		require.NoError(t, err)
		require.Equal(t, want, got, "%T %v", c.value, c.value)
	}
	// a slice of another element type, the text format and scalars stay pgx's
	for _, c := range []struct {
		oid    uint32
		format int16
		value  any
	}{
		{pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, []int32{1}},
		{pgtype.TextArrayOID, pgtype.TextFormatCode, []string{"a"}},
		{pgtype.TextOID, pgtype.BinaryFormatCode, "a"},
	} {
		require.NotEqual(t, slicePlan{}, fast.PlanEncode(c.oid, c.format, c.value))
		want, err := plain.Encode(c.oid, c.format, c.value, nil)
		require.NoError(t, err)
		got, err := fast.Encode(c.oid, c.format, c.value, nil)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
}

func BenchmarkSliceCodec(b *testing.B) {
	strs := make([]string, 32)
	for i := range strs {
		strs[i] = "01a208d1-f436-787b-90b2-4f863bfe9bcd"
	}
	for _, bc := range []struct {
		name string
		m    *pgtype.Map
	}{{"pgx", pgtype.NewMap()}, {"direct", func() *pgtype.Map { m := pgtype.NewMap(); registerSliceCodecs(m); return m }()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			for b.Loop() {
				var err error
				if _, err = bc.m.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, strs, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
