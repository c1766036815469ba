package tui

import (
	"slices"

	"github.com/charmbracelet/lipgloss"
)

// bottleColors maps the names start --color takes (the colours Claude Code
// gives subagents) to ANSI colours, so a bottle looks the same in every
// terminal theme that keeps the basic palette.
func bottleColors() map[string]lipgloss.Color {
	return map[string]lipgloss.Color{
		"red":    "1",
		"green":  "2",
		"yellow": "3",
		"blue":   "4",
		"purple": "5",
		"cyan":   "6",
		"orange": "208",
		"pink":   "205",
	}
}

// BottleColors lists the colour names a bottle may have, sorted.
func BottleColors() []string {
	var out []string
	for name := range bottleColors() {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// ValidBottleColor reports whether name is one of BottleColors.
func ValidBottleColor(name string) bool {
	_, ok := bottleColors()[name]
	return ok
}

// bottle is the style of a bottle's name: its colour, or plain when it has
// none or an unknown one (metadata.json is only read, never trusted to
// hold a valid name).
func (s styles) bottle(color string) lipgloss.Style {
	st := s.renderer.NewStyle()
	if c, ok := bottleColors()[color]; ok {
		st = st.Foreground(c)
	}
	return st
}
