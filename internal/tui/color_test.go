package tui

import (
	"io"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

func TestListShowsBottleColor(t *testing.T) {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	st := newStyles(r)
	var l List
	a := item(id1, "impl-k3x9q", "", queue.ToolEgressAllow, "- host: a.example\n", 0)
	b := item(id2, "review-a1b2c", "docs", queue.ToolEgressAllow, "- host: b.example\n", 0)
	c := item(id3, "odd-zzzzz", "", queue.ToolEgressAllow, "- host: c.example\n", 0)
	a.Color, b.Color, c.Color = "cyan", "orange", "\x1b[5mblink"
	l.SetItems([]apply.Item{a, b, c})
	lines := l.View(st, now, 80, 10)
	if len(lines) != 4 {
		t.Fatalf("got %d lines", len(lines))
	}
	// Row 1 is selected (reverse video), its colour left out; row 2 is
	// orange (256-colour 208); row 3's unknown colour is plain.
	if !strings.Contains(lines[2], "\x1b[38;5;208mreview-a1b2c · docs") {
		t.Errorf("orange bottle not coloured: %q", lines[2])
	}
	if strings.Contains(lines[3], "\x1b[38;5;") || strings.Contains(lines[3], "\x1b[5m") {
		t.Errorf("unknown colour rendered: %q", lines[3])
	}
	if strings.Contains(lines[1], "38;5;6") || strings.Contains(lines[1], "\x1b[36m") {
		t.Errorf("selected row carries the bottle colour inside the highlight: %q", lines[1])
	}
	for i, l := range lines {
		if w := lipgloss.Width(l); w > 80 {
			t.Errorf("line %d is %d cells wide", i, w)
		}
	}
}

func TestValidBottleColor(t *testing.T) {
	for _, c := range BottleColors() {
		if !ValidBottleColor(c) {
			t.Errorf("%q listed but not valid", c)
		}
	}
	for _, c := range []string{"", "Red", "black", "#ff0000", "1"} {
		if ValidBottleColor(c) {
			t.Errorf("%q accepted", c)
		}
	}
}
