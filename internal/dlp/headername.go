package dlp

import (
	"net/http"
	"strings"
)

// minDataPiece is the shortest '-'-separated piece of a header name that
// reads as data rather than a word.
const minDataPiece = 24

// headerNameFindings: a header name with a '-'-separated piece of 24 or
// more letters and digits, both present, reads like data. No header a
// client or an API defines looks like that (their pieces are words); a
// token sent as a name does, whatever its vendor, and canonical case can
// hide it from its rule ("AIza…" arrives as "Aiza…").
func headerNameFindings(h http.Header) []Finding {
	var out []Finding
	for k := range h {
		if len(k) < minDataPiece || !dataPiece(k) {
			continue
		}
		out = append(out, Finding{Detector: DetectorTokenPatterns, Rule: "encoded-header-name",
			Where: "header:" + k, Place: "header name", Redacted: "***",
			Fingerprint: fingerprint([]byte(strings.ToLower(k)))})
	}
	return out
}

func dataPiece(k string) bool {
	for _, p := range strings.FieldsFunc(k, func(r rune) bool { return r == '-' || r == '.' }) {
		if len(p) < minDataPiece {
			continue
		}
		letter, digit := false, false
		for i := 0; i < len(p); i++ {
			c := p[i] | 0x20
			switch {
			case c >= 'a' && c <= 'z':
				letter = true
			case p[i] >= '0' && p[i] <= '9':
				digit = true
			case p[i] == '_':
			default:
				letter, digit = false, false
				i = len(p)
			}
		}
		if letter && digit {
			return true
		}
	}
	return false
}
