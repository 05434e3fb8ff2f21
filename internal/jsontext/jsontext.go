// Package jsontext appends JSON text exactly as encoding/json writes it.
// The hot paths that build outbox payloads and fingerprints by hand (ledger
// transactions, coupon events, reward outcomes, order events) share it, so
// that their bytes stay identical to what encoding/json would have written
// and the escaping rules live in one place.
package jsontext

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// AppendString appends s as a quoted JSON string, escaped as encoding/json
// escapes it: \" \\ \b \f \n \r \t, \u00XX for other control bytes,
// \ufffd for each byte of invalid UTF-8, \u2028 and \u2029 escaped, and,
// when escapeHTML (json.Marshal's default; an Encoder with
// SetEscapeHTML(false) clears it), < > & as \u003c \u003e \u0026.
func AppendString(b []byte, s string, escapeHTML bool) []byte {
	b = append(b, '"')
	done := 0 // s[:done] is written
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!escapeHTML || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[done:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			done = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, s[done:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[done:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += n
			continue
		}
		i += n
		done = i
	}
	b = append(b, s[done:]...)
	return append(b, '"')
}
