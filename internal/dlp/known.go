package dlp

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"unicode/utf16"
)

// MinSecretLen: held secrets shorter than this are not searched for. A
// value of a few bytes occurs by chance in ordinary traffic (and in its
// base64 and hex forms even more often), so matching it would block at
// random while protecting almost nothing: a short secret can be guessed.
const MinSecretLen = 8

// variant is one encoded form of a held secret, searched for as-is.
type variant struct {
	Secret int    // index into the config's secrets
	Form   string // raw, base64, base64url, hex, url, json
	Value  []byte
	Fold   bool // hex digits: compare ASCII case-insensitively
}

// secretVariants lists the forms of every held secret long enough to
// search for. Forms that equal the raw value are not repeated.
func secretVariants(secrets []Secret) []variant {
	var out []variant
	for i, s := range secrets {
		v := []byte(s.Value)
		if len(v) < MinSecretLen {
			continue
		}
		seen := map[string]bool{}
		add := func(form string, val []byte, fold bool) {
			key := string(val)
			if fold {
				key = strings.ToLower(key)
			}
			if len(val) == 0 || seen[key] {
				return
			}
			seen[key] = true
			out = append(out, variant{Secret: i, Form: form, Value: val, Fold: fold})
		}
		// Held secrets are few, so they can afford more forms: any case
		// (the automaton and verify fold ASCII case), reversed, rot13,
		// UTF-16 in either byte order.
		add("raw", v, true)
		add("reversed", reverseBytes(v), true)
		add("rot13", rot13(v), true)
		add("utf16le", utf16Bytes(s.Value, false), true)
		add("utf16be", utf16Bytes(s.Value, true), true)
		for _, enc := range []struct {
			name string
			e    *base64.Encoding
		}{{"base64", base64.StdEncoding}, {"base64url", base64.URLEncoding}} {
			for k := 0; k < 3; k++ {
				add(enc.name, base64Core(enc.e, v, k), false)
			}
		}
		add("hex", []byte(hex.EncodeToString(v)), true)
		add("url", []byte(url.QueryEscape(s.Value)), false)
		add("url", []byte(url.PathEscape(s.Value)), false)
		for _, html := range []bool{true, false} {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(html)
			if enc.Encode(s.Value) == nil {
				js := strings.TrimSuffix(b.String(), "\n")
				add("json", []byte(js[1:len(js)-1]), false)
			}
		}
	}
	return out
}

// base64Core returns the base64 characters that depend only on v when v
// starts at byte offset k (mod 3) of a longer encoded stream: the same
// characters appear whatever surrounds v.
func base64Core(e *base64.Encoding, v []byte, k int) []byte {
	buf := make([]byte, k+len(v))
	copy(buf[k:], v)
	enc := []byte(e.EncodeToString(buf))
	first := (8*k + 5) / 6         // first char whose 6 bits all lie in v
	last := (8 * (k + len(v))) / 6 // chars before this one end inside v
	if last <= first {
		return nil
	}
	return enc[first:last]
}

// verify checks a candidate occurrence in constant time for its length.
func (v *variant) verify(b []byte) bool {
	if len(b) != len(v.Value) {
		return false
	}
	if !v.Fold {
		return subtle.ConstantTimeCompare(b, v.Value) == 1
	}
	var diff byte
	for i := range b {
		diff |= foldByte(b[i]) ^ foldByte(v.Value[i])
	}
	return diff == 0
}

func reverseBytes(v []byte) []byte {
	out := make([]byte, len(v))
	for i, c := range v {
		out[len(v)-1-i] = c
	}
	return out
}

func rot13(v []byte) []byte {
	out := make([]byte, len(v))
	for i, c := range v {
		switch {
		case 'a' <= c && c <= 'z':
			c = 'a' + (c-'a'+13)%26
		case 'A' <= c && c <= 'Z':
			c = 'A' + (c-'A'+13)%26
		}
		out[i] = c
	}
	return out
}

func utf16Bytes(s string, bigEndian bool) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

// fragmentLen is the length of the start and end pieces of a held secret
// searched for on their own: a hit on one means the secret may have been
// split across fields, and the request's fields are joined and searched.
func fragmentLen(n int) int {
	if n < 24 {
		return 6
	}
	return 8
}
