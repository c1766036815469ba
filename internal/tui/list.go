package tui

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// List is the pending proposals of every bottle, one a row.
type List struct {
	items  []apply.Item
	cursor int
}

// SetItems replaces the rows, keeping the selected proposal selected.
func (l *List) SetItems(items []apply.Item) {
	sel, ok := l.Selected()
	l.items = items
	l.cursor = 0
	if ok {
		for i, it := range items {
			if it.Proposal.ID == sel.Proposal.ID {
				l.cursor = i
				return
			}
		}
	}
}

// Selected is the proposal under the cursor.
func (l *List) Selected() (apply.Item, bool) {
	if l.cursor < 0 || l.cursor >= len(l.items) {
		return apply.Item{}, false
	}
	return l.items[l.cursor], true
}

// HandleMsg moves the cursor or names the action a key asks for.
func (l *List) HandleMsg(msg tea.Msg) Action {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return Action{}
	}
	switch k.String() {
	case "up", "k":
		if l.cursor > 0 {
			l.cursor--
		}
	case "down", "j":
		if l.cursor < len(l.items)-1 {
			l.cursor++
		}
	case "home", "g":
		l.cursor = 0
	case "end", "G":
		l.cursor = max(len(l.items)-1, 0)
	case "q", "ctrl+c":
		return Action{Kind: Quit}
	}
	if _, ok := l.Selected(); !ok {
		return Action{}
	}
	if k.String() == "enter" {
		return Action{Kind: Open}
	}
	return decisionKey(k.String())
}

const listHelp = "↑/↓ select · enter open · a approve · m modify · r reject · i inspect · q quit"

// View draws h lines of w cells.
func (l List) View(st styles, now time.Time, w, h int) []string {
	if len(l.items) == 0 {
		return []string{st.faint.Render(fit("No pending proposals. New ones appear here as they arrive.", w, false))}
	}
	bw := 12
	for _, it := range l.items {
		bw = max(bw, len([]rune(bottleName(it))))
	}
	bw = min(bw, max(w/3, 12))
	const tw, aw = 18, 4
	sw := max(w-2-bw-1-tw-1-aw-1, 0)
	row := func(b, t, a, s string) string {
		return fit(b, bw, true) + " " + fit(t, tw, true) + " " + fmt.Sprintf("%*s", aw, fit(a, aw, false)) + " " + fit(s, sw, false)
	}
	out := []string{st.header.Render(fit("  "+row("BOTTLE", "TOOL", "AGE", "SUMMARY"), w, false))}
	rows := max(h-1, 1)
	first := max(l.cursor-rows+1, 0)
	for i := first; i < len(l.items) && i < first+rows; i++ {
		it := l.items[i]
		line := row(bottleName(it), clean(it.Proposal.Tool), age(now, it.Proposal.ArrivalTimestamp), clean(it.Summary))
		if i == l.cursor {
			out = append(out, st.selected.Render(fit("> "+line, w, true)))
			continue
		}
		full := fit("  "+line, w, false)
		if queue.Unproven(it.Proposal) {
			out = append(out, st.errText.Render(full)) // the agent's claim, in red
			continue
		}
		// The bottle's colour, on the cell only when the cell fits whole.
		if cell := "  " + fit(bottleName(it), bw, true); it.Color != "" && strings.HasPrefix(full, cell) {
			full = "  " + st.bottle(it.Color).Render(cell[2:]) + full[len(cell):]
		}
		out = append(out, full)
	}
	return out
}

// bottleName is the slug, with the label when the bottle has one.
func bottleName(it apply.Item) string {
	if it.Label != "" {
		return clean(it.Slug + " · " + it.Label)
	}
	return clean(it.Slug)
}

// age is a short duration since t: 42s, 5m, 3h, 2d.
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// joinLines is the view's lines, one a row.
func joinLines(ls []string) string { return strings.Join(ls, "\n") }
