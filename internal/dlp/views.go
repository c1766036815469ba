package dlp

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"slices"
	"unicode/utf8"
)

func newQPReader(r io.Reader) io.Reader { return quotedprintable.NewReader(r) }

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// hidesToken: an escape of this character is worth decoding. Encoders
// leave letters and digits alone and escape + / = : only in URLs, so an
// escaped token character means a decoded view may show a token the raw
// text hides. Escapes of anything else (<, >, &, quotes, non-ASCII, the
// printf verbs in code) cannot split a token apart and are skipped.
func hidesToken(c byte) bool {
	return tokenChar[c] || c == '.' || c == '~' || c == ':'
}

// percentView decodes every valid %XX (and + as space when plus is set),
// leaving anything else as it is. It returns nil when nothing changes.
// The scanner builds it only when an escape of a token character is seen.
func percentView(b []byte, plus bool) []byte {
	i := bytes.IndexByte(b, '%')
	if plus {
		if j := bytes.IndexByte(b, '+'); j >= 0 && (i < 0 || j < i) {
			i = j
		}
	}
	if i < 0 {
		return nil
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:i]...)
	changed := false
	for ; i < len(b); i++ {
		c := b[i]
		if c == '%' && i+2 < len(b) {
			hi, ok1 := unhex(b[i+1])
			lo, ok2 := unhex(b[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				changed = true
				continue
			}
		}
		if c == '+' && plus {
			out = append(out, ' ')
			changed = true
			continue
		}
		out = append(out, c)
	}
	if !changed {
		return nil
	}
	return out
}

// jsonView decodes JSON string escapes (\uXXXX with surrogate pairs, \/,
// \" and the rest) wherever they appear. The scanner builds it only when
// a \/ or a \u escape of a token character is seen: JSON encoders escape
// quotes, control characters, <>& and non-ASCII, none of which can hide a
// token.
func jsonView(b []byte) []byte {
	if bytes.IndexByte(b, '\\') < 0 {
		return nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		e := b[i+1]
		if d, ok := jsonSimpleEscape(e); ok {
			out = append(out, d)
			i++
			continue
		}
		switch e {
		case 'x', 'X': // JavaScript \xHH
			if i+3 < len(b) {
				hi, ok1 := unhex(b[i+2])
				lo, ok2 := unhex(b[i+3])
				if ok1 && ok2 {
					out = append(out, hi<<4|lo)
					i += 3
					continue
				}
			}
			out = append(out, c)
		case 'u', 'U':
			r, n := hex4(b[i+2:])
			if n == 0 {
				out = append(out, c)
				continue
			}
			i += 1 + n
			if 0xD800 <= r && r < 0xDC00 && i+2 < len(b) && b[i+1] == '\\' && (b[i+2] == 'u' || b[i+2] == 'U') {
				if r2, n2 := hex4(b[i+3:]); n2 > 0 && 0xDC00 <= r2 && r2 < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					i += 2 + n2
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			out = append(out, c)
		}
	}
	return out
}

func hex4(b []byte) (rune, int) {
	if len(b) < 4 {
		return 0, 0
	}
	var r rune
	for _, c := range b[:4] {
		v, ok := unhex(c)
		if !ok {
			return 0, 0
		}
		r = r<<4 | rune(v)
	}
	return r, 4
}

// jsonSimpleEscape decodes the one-letter JSON escapes.
func jsonSimpleEscape(e byte) (byte, bool) {
	switch e {
	case '"', '\\', '/':
		return e, true
	case 'n':
		return '\n', true
	case 't':
		return '\t', true
	case 'r':
		return '\r', true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	}
	return 0, false
}

// b64Class: 1 for base64 (and base64url) alphabet bytes, 2 for the line
// breaks a wrapped encoding may carry (CR, LF, and the backslash of a JSON
// \n or \r escape).
var b64Class = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '+', c == '/', c == '-', c == '_', c == '=':
			t[c] = 1
		case c == '\r', c == '\n', c == '\\':
			t[c] = 2
		}
	}
	return t
}()

// minBase64Run: shorter runs are words and identifiers, and too short to
// hide a token (gitleaks' shortest tokens are 20 bytes, 28 encoded).
const minBase64Run = 28

// base64View decodes every run of base64 text (line-wrapped too) long
// enough to hold a token, one decoded run a line, so a token uploaded
// base64-encoded (a file through an API, a data: URL) is still seen. It
// returns nil when there is no such run. Runs that are not really base64
// decode to noise, which matches nothing. The runs are the outbound
// layers' (base64Runs), so both walls read the same base64.
func base64View(b []byte) []byte {
	var out []byte
	for _, r := range base64Runs(b) {
		n := len(out)
		if out = appendB64Wrapped(out, b[r.start:r.end]); len(out) > n {
			out = append(out, '\n')
		}
	}
	return out
}

// decodeB64Run decodes a run in either alphabet, padded or not, ignoring
// a trailing partial quantum.
func decodeB64Run(run []byte) []byte { return appendB64Run(nil, run) }

// appendB64Run is decodeB64Run appending to dst (dst unchanged when the
// run does not decode).
func appendB64Run(dst, run []byte) []byte {
	for len(run) > 0 && run[len(run)-1] == '=' {
		run = run[:len(run)-1]
	}
	if len(run)%4 == 1 {
		run = run[:len(run)-1]
	}
	enc := base64.RawStdEncoding
	if bytes.IndexByte(run, '-') >= 0 || bytes.IndexByte(run, '_') >= 0 {
		enc = base64.RawURLEncoding
	}
	dst = slices.Grow(dst, enc.DecodedLen(len(run)))
	n, err := enc.Decode(dst[len(dst):cap(dst)], run)
	if err != nil {
		return dst // '=' inside, or both alphabets mixed: not one encoding
	}
	return dst[:len(dst)+n]
}
