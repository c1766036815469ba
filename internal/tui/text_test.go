package tui

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzAgentText: whatever the agent writes, what reaches the screen holds
// no control characters and fits the width it was given.
func FuzzAgentText(f *testing.F) {
	for _, s := range []string{"", "plain", "tab\there", "\x1b[2J\x1b]0;t\x07", "\u202eexe.txt", "a very long line with spaces to wrap at", "多字节文字", "\r\n\n"} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, w int) {
		w = w%200 + 1
		if w < 1 {
			w = -w + 1
		}
		for _, l := range append(cleanLines(s), clean(s)) {
			for _, r := range l {
				if unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
					t.Fatalf("control rune %U survives in %q", r, l)
				}
			}
			if n := len([]rune(fit(l, w, true))); n != w {
				t.Fatalf("fit(%q, %d, pad) is %d runes", l, w, n)
			}
			for _, wl := range wrap(l, w) {
				if n := len([]rune(wl)); n > w {
					t.Fatalf("wrap(%q, %d) gave a line of %d runes", l, w, n)
				}
			}
		}
	})
}

func TestWrap(t *testing.T) {
	got := strings.Join(wrap("the quick brown fox jumps", 10), "|")
	if want := "the quick|brown fox|jumps"; got != want {
		t.Errorf("wrap = %q, want %q", got, want)
	}
}

func TestWrapLongText(t *testing.T) {
	s := strings.Repeat("ab ", 200_000)
	lines := wrap(s, 1)
	if len(lines) < 400_000 {
		t.Errorf("wrap gave %d lines", len(lines))
	}
}

func TestLineDiffLargeFallsBack(t *testing.T) {
	a := strings.Split(strings.Repeat("x\n", 2000), "\n")
	b := strings.Split(strings.Repeat("y\n", 2000), "\n")
	if got := lineDiff(a, b); len(got) != len(a)+len(b) {
		t.Errorf("fallback diff has %d lines, want %d", len(got), len(a)+len(b))
	}
}
