package sqlstore

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// The batch statements (grouped transfers and claims, netted payments)
// send their rows as one-dimensional arrays, one per column: a batch of
// 16 transfers is some 700 array elements. pgx encodes a slice element by
// element through an interface (each element boxed, its plan looked up,
// the buffer grown as it goes), which costs the client more than building
// the batch does. sliceCodec encodes the slices those statements send
// (strings, 16-, 32- and 64-bit integers, booleans, times, and pointers to
// strings and times for nullable columns) straight into PostgreSQL's
// binary array format, sized once; every other value goes to pgx's own
// codec. The bytes are the ones pgx would send: a nil slice is SQL NULL,
// an empty one an empty array.

// registerSliceCodecs puts sliceCodec in front of pgx's codec for each
// array type the batch statements use, in the type map of one connection.
func registerSliceCodecs(m *pgtype.Map) {
	for _, a := range []struct{ array, elem uint32 }{
		{pgtype.TextArrayOID, pgtype.TextOID},
		{pgtype.Int2ArrayOID, pgtype.Int2OID},
		{pgtype.Int4ArrayOID, pgtype.Int4OID},
		{pgtype.Int8ArrayOID, pgtype.Int8OID},
		{pgtype.BoolArrayOID, pgtype.BoolOID},
		{pgtype.TimestamptzArrayOID, pgtype.TimestamptzOID},
	} {
		t, ok := m.TypeForOID(a.array)
		if !ok {
			continue
		}
		m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: sliceCodec{Codec: t.Codec, elem: a.elem}})
	}
}

// sliceCodec is pgx's codec of an array type (embedded, for everything
// but the encoding of the slices it knows) with elem, the OID of the
// element type.
type sliceCodec struct {
	pgtype.Codec
	elem uint32
}

// PlanEncode returns the direct plan when value is a slice of the
// element type and the format binary, else pgx's plan.
func (c sliceCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if format == pgtype.BinaryFormatCode {
		var ok bool
		switch value.(type) {
		case []string, []*string:
			ok = c.elem == pgtype.TextOID
		case []int16:
			ok = c.elem == pgtype.Int2OID
		case []int32:
			ok = c.elem == pgtype.Int4OID
		case []int64:
			ok = c.elem == pgtype.Int8OID
		case []bool:
			ok = c.elem == pgtype.BoolOID
		case []time.Time, []*time.Time:
			ok = c.elem == pgtype.TimestamptzOID
		}
		if ok {
			return slicePlan{elem: c.elem}
		}
	}
	return c.Codec.PlanEncode(m, oid, format, value)
}

// slicePlan encodes one of the slices sliceCodec.PlanEncode accepts.
type slicePlan struct{ elem uint32 }

// microsY2K is the Unix time, in microseconds, of PostgreSQL's epoch
// (2000-01-01 UTC), from which binary timestamps count.
const microsY2K = 946_684_800 * 1_000_000

// pgMicros is t as a binary timestamptz: microseconds since 2000,
// truncated as pgx truncates them.
func pgMicros(t time.Time) int64 { return t.Unix()*1_000_000 + int64(t.Nanosecond())/1000 - microsY2K }

func (p slicePlan) Encode(value any, buf []byte) ([]byte, error) {
	switch v := value.(type) {
	case []string:
		if v == nil {
			return nil, nil
		}
		size := 0
		for _, s := range v {
			size += 4 + len(s)
		}
		buf = p.header(buf, len(v), false, size)
		for _, s := range v {
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
			buf = append(buf, s...)
		}
	case []*string:
		if v == nil {
			return nil, nil
		}
		size, null := 0, false
		for _, s := range v {
			size += 4
			if s == nil {
				null = true
			} else {
				size += len(*s)
			}
		}
		buf = p.header(buf, len(v), null, size)
		for _, s := range v {
			if s == nil {
				buf = binary.BigEndian.AppendUint32(buf, 0xFFFFFFFF) // -1: NULL
				continue
			}
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(*s)))
			buf = append(buf, *s...)
		}
	case []int16:
		return fixedArray(p, buf, v, 2, func(b []byte, n int16) []byte { return binary.BigEndian.AppendUint16(b, uint16(n)) })
	case []int32:
		return fixedArray(p, buf, v, 4, func(b []byte, n int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(n)) })
	case []int64:
		return fixedArray(p, buf, v, 8, func(b []byte, n int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(n)) })
	case []bool:
		return fixedArray(p, buf, v, 1, func(b []byte, t bool) []byte {
			if t {
				return append(b, 1)
			}
			return append(b, 0)
		})
	case []time.Time:
		return fixedArray(p, buf, v, 8, func(b []byte, t time.Time) []byte { return binary.BigEndian.AppendUint64(b, uint64(pgMicros(t))) })
	case []*time.Time:
		if v == nil {
			return nil, nil
		}
		null := false
		for _, t := range v {
			null = null || t == nil
		}
		buf = p.header(buf, len(v), null, 12*len(v))
		for _, t := range v {
			if t == nil {
				buf = binary.BigEndian.AppendUint32(buf, 0xFFFFFFFF)
				continue
			}
			buf = binary.BigEndian.AppendUint32(buf, 8)
			buf = binary.BigEndian.AppendUint64(buf, uint64(pgMicros(*t)))
		}
	}
	return buf, nil
}

// fixedArray encodes v, whose elements take width bytes each, written by
// put; a nil v is SQL NULL.
func fixedArray[T any](p slicePlan, buf []byte, v []T, width int, put func([]byte, T) []byte) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	buf = p.header(buf, len(v), false, (4+width)*len(v))
	for _, x := range v {
		buf = put(binary.BigEndian.AppendUint32(buf, uint32(width)), x)
	}
	return buf, nil
}

// header grows buf once for an array of n elements whose elements take
// size bytes (their length words included) and appends the array's
// header: one dimension of n elements from 1, whether any is NULL, and
// the element type.
func (p slicePlan) header(buf []byte, n int, null bool, size int) []byte {
	buf = slices.Grow(buf, 20+size)
	buf = binary.BigEndian.AppendUint32(buf, 1) // dimensions
	var hasNull uint32
	if null {
		hasNull = 1
	}
	buf = binary.BigEndian.AppendUint32(buf, hasNull)
	buf = binary.BigEndian.AppendUint32(buf, p.elem)
	buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	return binary.BigEndian.AppendUint32(buf, 1) // lower bound
}
