package tui

import "github.com/charmbracelet/lipgloss"

// styles are built from one renderer so tests can pin the colour profile.
type styles struct {
	title, header, selected, add, del, notice, errText, help, faint lipgloss.Style
	renderer                                                        *lipgloss.Renderer
}

func newStyles(r *lipgloss.Renderer) styles {
	return styles{
		title:    r.NewStyle().Bold(true),
		header:   r.NewStyle().Bold(true),
		selected: r.NewStyle().Reverse(true),
		add:      r.NewStyle().Foreground(lipgloss.Color("2")),
		del:      r.NewStyle().Foreground(lipgloss.Color("1")),
		notice:   r.NewStyle().Foreground(lipgloss.Color("3")),
		errText:  r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		help:     r.NewStyle().Faint(true),
		faint:    r.NewStyle().Faint(true),
		renderer: r,
	}
}
