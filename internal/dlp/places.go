package dlp

import (
	"bytes"
	"fmt"
	"strings"
)

// Places: where in a request a finding sits, named the way a person
// reads a request ("query q", "header Cookie pair token", "body
// $.config.key"). Computed only for findings, from the raw offset.

// segment kinds that name places inside a body.
const (
	kindJSON = "json"
	kindForm = "form"
)

// placeOf names the place of raw offset off in s.
func placeOf(s segment, off int) string {
	switch {
	case s.Where == "query":
		return "query " + pairName(s.Text, off, "&;")
	case s.Where == "path":
		return fmt.Sprintf("path segment %d", bytes.Count(s.Text[:min(off, len(s.Text))], []byte("/")))
	case strings.HasPrefix(s.Where, "header:"):
		name := strings.TrimPrefix(s.Where, "header:")
		if off < s.NameLen {
			return "header name"
		}
		if strings.EqualFold(name, "Cookie") {
			return "header Cookie pair " + pairName(s.Text[s.NameLen:], off-s.NameLen, ";")
		}
		return "header " + name
	case strings.HasPrefix(s.Where, "body:part:"):
		return "body part " + strings.TrimPrefix(s.Where, "body:part:")
	case s.Where == "body" && s.Kind == kindJSON:
		return "body " + jsonPathAt(s.Text, off)
	case s.Where == "body" && s.Kind == kindForm:
		return "body field " + pairName(s.Text, off, "&")
	case s.Where == "body:raw":
		return "body bytes outside the decoded stream"
	}
	return strings.ReplaceAll(s.Where, ":", " ")
}

// pairName names the key=value pair holding off: the key when the value
// holds it, "key #N" when the key itself does (the key may be the secret).
func pairName(b []byte, off int, seps string) string {
	start, n := 0, 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && !strings.ContainsRune(seps, rune(b[i])) {
			continue
		}
		if off < i || i == len(b) {
			pair := b[start:i]
			k, _, _ := bytes.Cut(pair, []byte("="))
			if off < start+len(k) {
				return fmt.Sprintf("key #%d", n+1)
			}
			return safeName(string(bytes.TrimSpace(k)), fmt.Sprintf("#%d", n+1))
		}
		start, n = i+1, n+1
	}
	return "?"
}

// safeName shows a name only when it is a short identifier; a long or odd
// one could be the secret itself.
func safeName(s, instead string) string {
	if s == "" || len(s) > 32 {
		return instead
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isWordByte(c) || c == '-' || c == '.' || c == '[' || c == ']') {
			return instead
		}
	}
	return s
}

// jsonPathAt is the JSON path of the value (or key) holding offset off,
// read leniently: a body that is not quite JSON still gets a path.
func jsonPathAt(b []byte, off int) string {
	type frame struct {
		arr bool
		idx int
		key string
	}
	var st []frame
	expectKey := false
	render := func(suffix string) string {
		var p strings.Builder
		p.WriteString("$")
		for _, f := range st {
			if f.arr {
				fmt.Fprintf(&p, "[%d]", f.idx)
			} else if f.key != "" {
				p.WriteString("." + safeName(f.key, "[…]"))
			}
		}
		return p.String() + suffix
	}
	for i := 0; i < len(b) && i <= off; i++ {
		switch b[i] {
		case '{':
			st = append(st, frame{})
			expectKey = true
		case '[':
			st = append(st, frame{arr: true})
		case '}', ']':
			if len(st) > 0 {
				st = st[:len(st)-1]
			}
		case ',':
			if len(st) > 0 {
				if top := &st[len(st)-1]; top.arr {
					top.idx++
				} else {
					expectKey = true
				}
			}
		case '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			isKey := expectKey && len(st) > 0 && !st[len(st)-1].arr
			if off >= i && off <= j {
				if isKey {
					return render(" (a key)")
				}
				return render("")
			}
			if isKey {
				st[len(st)-1].key = string(b[i+1 : min(j, len(b))])
				expectKey = false
			}
			i = j
		}
	}
	return render("")
}
