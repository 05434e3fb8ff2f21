package coupon

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// CodeAlphabet is the alphabet of coupon codes: digits and capital letters
// without the look-alikes 0, O, 1, I and L. It has 31 characters, a prime,
// which is what lets the check character catch every single-character typo
// and every swap of two neighbours.
const CodeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

const alphabetSize = len(CodeAlphabet) // 31

// Code lengths, counting the check character and not the separators.
const (
	MinCodeLength     = 6
	MaxCodeLength     = 30 // position weights 1..30 stay distinct and nonzero mod 31
	DefaultCodeLength = 12 // 11 random characters: 31^11 ≈ 2.5e16 codes
)

// ParseCode turns what a user typed into a canonical code: separators
// ('-' and spaces) dropped, letters upper-cased, and the check character
// verified. Errors: ErrMalformedCode (wrong length, a character outside
// CodeAlphabet), ErrBadCheckCharacter (a typo; it also matches
// ErrMalformedCode).
func ParseCode(s string) (string, error) {
	if len(s) > 4*MaxCodeLength {
		return "", &codeError{msg: "code is too long"}
	}
	var buf [MaxCodeLength]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		if strings.IndexByte(CodeAlphabet, c) < 0 {
			return "", &codeError{msg: fmt.Sprintf("character %q is not in the code alphabet", rune(s[i]))}
		}
		if n == MaxCodeLength {
			return "", &codeError{msg: "code is too long"}
		}
		buf[n] = c
		n++
	}
	if n < MinCodeLength {
		return "", &codeError{msg: fmt.Sprintf("code has %d characters, want at least %d", n, MinCodeLength)}
	}
	sum := 0
	for i := range n {
		sum += (i + 1) * strings.IndexByte(CodeAlphabet, buf[i])
	}
	if sum%alphabetSize != 0 {
		return "", &codeError{msg: "code check character does not match (a typo?)", check: true}
	}
	return string(buf[:n]), nil
}

// FormatCode writes a canonical code in groups of four separated by '-'
// ("7XK9B2T4" -> "7XK9-B2T4").
func FormatCode(code string) string {
	if len(code) <= 4 {
		return code
	}
	var b strings.Builder
	b.Grow(len(code) + len(code)/4)
	for i := 0; i < len(code); i++ {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(code[i])
	}
	return b.String()
}

// checkValue returns the value of the check character that makes the
// weighted sum of a code of n characters (payload values v, weights 1..n)
// divisible by 31.
func checkValue(payloadSum, n int) int {
	inv := 1 // n^29 = n^-1 mod 31 (Fermat)
	for range alphabetSize - 2 {
		inv = inv * n % alphabetSize
	}
	return (alphabetSize - payloadSum%alphabetSize) % alphabetSize * inv % alphabetSize
}

// CodeGenerator makes random canonical codes of one length from
// crypto/rand. It buffers randomness, so it is not safe for concurrent use;
// make one per goroutine.
type CodeGenerator struct {
	length int
	buf    [4096]byte
	pos    int
}

// NewCodeGenerator returns a generator of codes with length characters
// (the check character included; 0 means DefaultCodeLength). It returns
// ErrInvalidRequest for a length outside [MinCodeLength, MaxCodeLength].
func NewCodeGenerator(length int) (*CodeGenerator, error) {
	if length == 0 {
		length = DefaultCodeLength
	}
	if length < MinCodeLength || length > MaxCodeLength {
		return nil, fmt.Errorf("%w: code length %d outside %d..%d", ErrInvalidRequest, length, MinCodeLength, MaxCodeLength)
	}
	g := &CodeGenerator{length: length}
	g.pos = len(g.buf)
	return g, nil
}

// Length returns the length of the codes made.
func (g *CodeGenerator) Length() int { return g.length }

// next returns a uniform value in [0, 31) by rejection sampling of random
// bytes (bytes >= 248 = 8*31 are dropped, so there is no modulo bias).
func (g *CodeGenerator) next() int {
	for {
		if g.pos == len(g.buf) {
			// crypto/rand.Read never fails on supported platforms (Go 1.24+
			// crashes the program instead of returning an error).
			_, _ = rand.Read(g.buf[:])
			g.pos = 0
		}
		b := g.buf[g.pos]
		g.pos++
		if b < 248 {
			return int(b) % alphabetSize
		}
	}
}

// Next returns a new random canonical code.
func (g *CodeGenerator) Next() string {
	var out [MaxCodeLength]byte
	n := g.length
	sum := 0
	for i := range n - 1 {
		v := g.next()
		out[i] = CodeAlphabet[v]
		sum += (i + 1) * v
	}
	out[n-1] = CodeAlphabet[checkValue(sum, n)]
	return string(out[:n])
}
