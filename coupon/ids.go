package coupon

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// uuidSource makes UUIDv7 strings (48-bit Unix milliseconds, version 7,
// 74 random bits) from a buffer of crypto/rand bytes refilled a few
// kilobytes at a time, so that an ID costs one small allocation and no
// system call. Each Service has its own; the mutex guards the buffer only.
type uuidSource struct {
	mu  sync.Mutex
	buf [2560]byte
	n   int // bytes of buf already used
}

func newUUIDSource() *uuidSource {
	return &uuidSource{n: len((&uuidSource{}).buf)}
}

// uuidLen is the length of a UUID's text form.
const uuidLen = 36

// next returns a new UUIDv7 in its 36-character text form.
func (g *uuidSource) next() string {
	var s [uuidLen]byte
	g.fill(s[:], time.Now())
	return string(s[:])
}

// pair returns two new UUIDv7s made with one allocation: both are
// slices of one 72-byte string (a claim's coupon and audit entry are
// written, kept and dropped together).
func (g *uuidSource) pair() (string, string) {
	var s [2 * uuidLen]byte
	now := time.Now()
	g.fill(s[:uuidLen], now)
	g.fill(s[uuidLen:], now)
	both := string(s[:])
	return both[:uuidLen], both[uuidLen:]
}

// fill writes a new UUIDv7 stamped with now into dst (36 bytes).
func (g *uuidSource) fill(dst []byte, now time.Time) {
	var u [16]byte
	g.mu.Lock()
	if g.n+10 > len(g.buf) {
		// crypto/rand.Read never returns an error: it crashes the program
		// when the system's source fails.
		_, _ = rand.Read(g.buf[:])
		g.n = 0
	}
	copy(u[6:], g.buf[g.n:g.n+10])
	g.n += 10
	g.mu.Unlock()
	ms := uint64(now.UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	hex.Encode(dst[0:8], u[0:4])
	dst[8] = '-'
	hex.Encode(dst[9:13], u[4:6])
	dst[13] = '-'
	hex.Encode(dst[14:18], u[6:8])
	dst[18] = '-'
	hex.Encode(dst[19:23], u[8:10])
	dst[23] = '-'
	hex.Encode(dst[24:], u[10:])
}
