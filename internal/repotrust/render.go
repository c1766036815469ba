package repotrust

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Render writes what the user confirms: where the file is, what it runs
// with, and its whole prompt. Agent text is shown escaped where it could
// hide or rewrite what the terminal shows (escape sequences, bidi
// overrides, zero-width and tag characters), and the count of such
// characters is said aloud.
func Render(w io.Writer, a Agent) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "\nAgent \"%s\" comes from this working directory, not from ~/.bot-bottle:\n", Escape(a.Name))
	fmt.Fprintf(bw, "  file:     %s (sha256 %s)\n", Escape(a.File), Hash(a.Content)[:12])
	asks := "(none: the default or --bottle)"
	if a.AsksFor != "" {
		asks = Escape(a.AsksFor)
	}
	fmt.Fprintf(bw, "  asks for: bottle %s\n", asks)
	fmt.Fprintf(bw, "  runs in:  %s\n", list(a.Bottles, "(none)"))
	fmt.Fprintf(bw, "  reaches:  %s\n", list(a.Hosts, "no egress routes"))
	fmt.Fprintf(bw, "  pushes:   %s\n", list(a.Repos, "no git-gate repos"))
	fmt.Fprintf(bw, "  tokens:   %s\n", list(a.Tokens, "none injected"))
	if len(a.Skills) > 0 {
		fmt.Fprintf(bw, "  skills:   %s\n", list(a.Skills, ""))
	}
	if a.GitUser != "" {
		fmt.Fprintf(bw, "  commits:  as %s\n", Escape(a.GitUser))
	}
	text, hidden := escapeText(a.Prompt)
	fmt.Fprintf(bw, "Its prompt (%d lines):\n", strings.Count(text, "\n")+1)
	for _, l := range strings.Split(text, "\n") {
		fmt.Fprintf(bw, "  │ %s\n", l)
	}
	if hidden > 0 {
		fmt.Fprintf(bw, "WARNING: the prompt holds %d invisible or terminal-control characters, shown above as \\u{...}: text a reader would not see.\n", hidden)
	}
	return bw.Flush()
}

func list(xs []string, none string) string {
	if len(xs) == 0 {
		return none
	}
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = Escape(x)
	}
	return strings.Join(out, ", ")
}

// Escape shows s on one line with every character that could hide text
// or move the cursor written as \u{HEX}.
func Escape(s string) string {
	out, _ := escapeLine(s, false)
	return out
}

// escapeText escapes s keeping its line breaks, and counts what it
// escaped.
func escapeText(s string) (string, int) {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	return escapeLine(s, true)
}

func escapeLine(s string, keepNewlines bool) (string, int) {
	var b strings.Builder
	n := 0
	for _, r := range s {
		switch {
		case r == '\n' && keepNewlines:
			b.WriteRune(r)
		case r == '\t':
			b.WriteString("    ")
		case hidden(r):
			fmt.Fprintf(&b, `\u{%x}`, r)
			n++
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), n
}

// hidden reports a rune that a terminal does not show as itself: controls
// (ESC starts a sequence that can rewrite the screen), bidi overrides,
// zero-width characters, Unicode tag characters (invisible ASCII, a known
// prompt-injection carrier), private-use and unassigned code points.
func hidden(r rune) bool {
	switch {
	case r == unicode.ReplacementChar:
		return true
	case unicode.IsControl(r):
		return true
	case r >= 0x200b && r <= 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2060 && r <= 0x206f, r == 0xfeff:
		return true
	case r >= 0xe0000 && r <= 0xe007f:
		return true
	case unicode.Is(unicode.Co, r), unicode.Is(unicode.Cf, r):
		return true
	}
	return !unicode.IsPrint(r) && r != ' '
}
