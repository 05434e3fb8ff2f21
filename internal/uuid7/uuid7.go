package uuid7

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"
)

// TextLen is the length of a UUID's canonical text form.
const TextLen = 36

// Source makes UUIDv7s (RFC 9562): the Unix time in milliseconds, a
// 12-bit count within the millisecond that keeps the IDs of one Source
// increasing (method 3 of the RFC), and 62 random bits. It is
// github.com/google/uuid's NewV7 without that package's process-wide lock
// and without an allocation, with the random bits read from crypto/rand
// for many IDs at once (one read costs about as much as the rest of an
// ID). The zero Source is ready to use; it is safe for concurrent use.
type Source struct {
	mu   sync.Mutex
	last int64 // milliseconds<<12 | count, of the last ID
	rnd  [randBatch * 8]byte
	used int // bytes of rnd given out; 0 or len(rnd) when it is to be read again
}

// randBatch is the number of IDs whose random bits are read at once.
const randBatch = 64

// Next returns a new UUID, greater than every one the Source made before.
func (g *Source) Next() [16]byte {
	nano := time.Now().UnixNano()
	milli := nano / 1e6
	v := milli<<12 | (nano-milli*1e6)>>8 // the count starts at the time within the millisecond, in 256 ns steps
	var u [16]byte
	g.mu.Lock()
	if v <= g.last {
		v = g.last + 1
	}
	g.last = v
	if g.used == 0 || g.used == len(g.rnd) {
		_, _ = rand.Read(g.rnd[:]) // never fails (crypto/rand)
		g.used = 0
	}
	g.used += copy(u[8:], g.rnd[g.used:])
	g.mu.Unlock()
	milli, count := v>>12, v&0xfff
	binary.BigEndian.PutUint64(u[:8], uint64(milli)<<16|0x7000|uint64(count))
	u[8] = u[8]&0x3f | 0x80 // the RFC 9562 variant
	return u
}

// Append appends a new UUID in its canonical text form to b.
func (g *Source) Append(b []byte) []byte { return AppendText(b, g.Next()) }

// String returns a new UUID in its canonical text form.
func (g *Source) String() string {
	var buf [TextLen]byte
	return string(g.Append(buf[:0]))
}

// AppendText appends u in its canonical text form (8-4-4-4-12 lower-case
// hex digits) to b.
func AppendText(b []byte, u [16]byte) []byte {
	b = hex.AppendEncode(b, u[0:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[4:6])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[6:8])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[8:10])
	b = append(b, '-')
	return hex.AppendEncode(b, u[10:16])
}
