package tui

import (
	"strings"
	"unicode"
)

// clean makes agent-controlled text safe to draw: control characters
// (escape sequences could rewrite the operator's screen) and bidi
// overrides (could make a line read differently than it is) become U+FFFD,
// tabs become spaces.
func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteString("    ")
		case unicode.IsControl(r), r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cleanLines splits s into cleaned lines.
func cleanLines(s string) []string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = clean(l)
	}
	return lines
}

// fit cuts s to w cells (one cell per rune: the text is cleaned first),
// ending with an ellipsis when cut, and pads it to w when pad is set.
func fit(s string, w int, pad bool) string {
	if w <= 0 {
		return ""
	}
	r := []rune(s)
	if len(r) > w {
		if w == 1 {
			return "…"
		}
		return string(r[:w-1]) + "…"
	}
	if pad {
		return s + strings.Repeat(" ", w-len(r))
	}
	return s
}

// wrap breaks s into lines of at most w cells, at spaces where it can.
// Linear in len(s): justifications come from the agent and may be long.
func wrap(s string, w int) []string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		r := []rune(para)
		start := 0
		for len(r)-start > w && w > 0 {
			cut := start + w
			for i := start + w; i > start+w/2; i-- {
				if r[i] == ' ' {
					cut = i
					break
				}
			}
			out = append(out, strings.TrimRight(string(r[start:cut]), " "))
			start = cut
			for start < len(r) && r[start] == ' ' {
				start++
			}
		}
		out = append(out, string(r[start:]))
	}
	return out
}
