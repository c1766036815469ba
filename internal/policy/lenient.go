package policy

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The policy matches a path and parameter names as the most lenient common
// server would read them, so that an upstream that decodes more than Go
// does cannot serve something the policy did not check: IIS (%uXXXX,
// backslashes), old Java and IIS decoders (overlong UTF-8), servers that
// normalise Unicode (NFKC: "‥" is "..", "／" is "/"), servers that decode
// percent escapes more than once, and PHP (which reads ".method" and
// " method" as "_method").

// maxRounds is how many decoding rounds a server might do; what is still
// encoded after them is refused, never guessed.
const maxRounds = 4

// lenientForms is s folded (fold), then decoded and folded again, round
// by round. ok is false when one more round would still change it.
func lenientForms(s string, plus bool) (forms []string, ok bool) {
	cur := fold(s)
	forms = []string{cur}
	for range maxRounds {
		next := fold(lenientUnescape(cur, plus))
		if next == cur {
			return forms, true
		}
		cur = next
		forms = append(forms, cur)
	}
	return forms[:maxRounds], false
}

// lenientUnescape is one round of percent decoding the way lenient
// servers do it: %XX, IIS's %uXXXX, + as a space when plus; a malformed
// escape stays as it is.
func lenientUnescape(s string, plus bool) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+' && plus:
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case c == '%' && i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') && isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]):
			r := rune(unhex(s[i+2]))<<12 | rune(unhex(s[i+3]))<<8 | rune(unhex(s[i+4]))<<4 | rune(unhex(s[i+5]))
			b.WriteRune(r)
			i += 5
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// fold reads overlong UTF-8 as the character it spells (%C0%AF is "/"),
// then applies NFKC. ASCII is returned as it is.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	return norm.NFKC.String(unOverlong(s))
}

// unOverlong replaces every overlong UTF-8 sequence (2, 3 or 4 bytes for
// a character that needs fewer) by the character's shortest form.
func unOverlong(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := overlongAt(s[i:])
		if n == 0 {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

func isCont(c byte) bool { return c&0xc0 == 0x80 }

// overlongAt decodes an overlong sequence at the start of s; n is 0 when
// there is none.
func overlongAt(s string) (rune, int) {
	if len(s) < 2 || !isCont(s[1]) {
		return 0, 0
	}
	switch c := s[0]; {
	case c == 0xc0 || c == 0xc1:
		return rune(c&0x1f)<<6 | rune(s[1]&0x3f), 2
	case c == 0xe0 && s[1] < 0xa0 && len(s) >= 3 && isCont(s[2]):
		return rune(s[1]&0x3f)<<6 | rune(s[2]&0x3f), 3
	case c == 0xf0 && s[1] < 0x90 && len(s) >= 4 && isCont(s[2]) && isCont(s[3]):
		r := rune(s[1]&0x3f)<<12 | rune(s[2]&0x3f)<<6 | rune(s[3]&0x3f)
		if !utf8.ValidRune(r) {
			return utf8.RuneError, 4
		}
		return r, 4
	}
	return 0, 0
}

// paramName is a parameter name as PHP, Rails and ASP.NET would key it:
// case-blind, leading spaces dropped, ' ', '.' and '[' read as '_' (PHP),
// cut at a NUL, and an array suffix ("name[]", "name[x]") dropped.
func paramName(name string) string {
	name, _, _ = strings.Cut(name, "\x00")
	name = strings.TrimLeft(name, " ")
	if i := strings.IndexByte(name, '['); i > 0 {
		if strings.IndexByte(name[i:], ']') > 0 {
			name = name[:i]
		}
	}
	return strings.ToLower(strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '[':
			return '_'
		}
		return r
	}, name))
}

// queryPairs splits a raw query on '&' and ';' (older Python and Java
// servers split on both).
func queryPairs(raw string) [][2]string {
	var out [][2]string
	for _, pair := range strings.FieldsFunc(raw, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(pair, "=")
		out = append(out, [2]string{k, v})
	}
	return out
}

// overrideParam is the parameter Rails, Laravel, Symfony and Express's
// method-override read as the method to run.
const overrideParam = "_method"

// undecidedMethod stands for a method override that could not be decoded:
// it is in no methods list, so a route with one refuses the request.
const undecidedMethod = "(undecodable _method)"

// queryMethodOverrides are the methods the query's _method parameter asks
// for, in every form a lenient server may decode it to.
func queryMethodOverrides(rawQuery string) []string {
	if rawQuery == "" {
		return nil
	}
	var out []string
	for _, kv := range queryPairs(rawQuery) {
		keys, ok := lenientForms(kv[0], true)
		hit := !ok
		for _, k := range keys {
			hit = hit || paramName(k) == overrideParam
		}
		if !hit {
			continue
		}
		vals, ok := lenientForms(kv[1], true)
		if !ok {
			out = append(out, undecidedMethod)
		}
		for _, v := range vals {
			out = append(out, strings.ToUpper(strings.TrimSpace(v)))
		}
	}
	return out
}
