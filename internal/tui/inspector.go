package tui

import (
	"fmt"
	"slices"
	"strconv"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/bot-bottle/bot-bottle/internal/supervise/inspect"
)

// Source feeds the inspector: the watcher in the program, a fake in
// tests.
type Source interface {
	Poll() ([]inspect.Event, error)
}

// maxEvents bounds the decisions the inspector keeps.
const maxEvents = 2000

// Inspector is the live pane of egress decisions, newest last.
type Inspector struct {
	events      []inspect.Event
	pick        int // 1 + the selected row's index; 0 follows the newest
	refusedOnly bool
	bottle      string // "" means every bottle
}

// Add appends new decisions, keeping the newest maxEvents.
func (in *Inspector) Add(evs []inspect.Event) {
	in.events = append(in.events, evs...)
	if n := len(in.events) - maxEvents; n > 0 {
		in.events = slices.Delete(in.events, 0, n)
	}
}

func (in *Inspector) rows() []inspect.Event {
	var out []inspect.Event
	for _, e := range in.events {
		if (in.refusedOnly && !e.Refused()) || (in.bottle != "" && e.Bottle != in.bottle) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Selected is the decision under the cursor.
func (in *Inspector) Selected() (inspect.Event, bool) {
	rows := in.rows()
	if len(rows) == 0 {
		return inspect.Event{}, false
	}
	return rows[in.selected(len(rows))], true
}

// selected is the selected row's index among n rows.
func (in *Inspector) selected(n int) int {
	if in.pick <= 0 || in.pick > n {
		return n - 1
	}
	return in.pick - 1
}

// bottles are the bottles seen, in order of first appearance.
func (in *Inspector) bottles() []string {
	var out []string
	for _, e := range in.events {
		if !slices.Contains(out, e.Bottle) {
			out = append(out, e.Bottle)
		}
	}
	return out
}

// Draft is the action of the draft key: the selected refusal.
const Draft Kind = 100

// HandleMsg moves the cursor, changes the filters, or asks for a draft.
func (in *Inspector) HandleMsg(msg tea.Msg) Action {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return Action{}
	}
	n := len(in.rows())
	cur := in.selected(n)
	switch k.String() {
	case "up", "k":
		in.pick = max(cur, 1) // the row above, 1-based
	case "down", "j":
		if in.pick = cur + 2; in.pick >= n {
			in.pick = 0 // the newest again: follow
		}
	case "end", "G":
		in.pick = 0
	case "f":
		in.refusedOnly = !in.refusedOnly
		in.pick = 0
	case "b":
		bs := append([]string{""}, in.bottles()...)
		i := slices.Index(bs, in.bottle)
		in.bottle = bs[(i+1)%len(bs)]
		in.pick = 0
	case "n":
		if e, ok := in.Selected(); ok && e.Refused() {
			return Action{Kind: Draft}
		}
	case "i", "esc":
		return Action{Kind: Back}
	case "q", "ctrl+c":
		return Action{Kind: Quit}
	}
	return Action{}
}

const inspectorHelp = "↑/↓ select · n draft a route for the refusal · f refused only · b bottle · i back · q quit"

// View draws h lines of w cells: a header, then the newest rows that fit
// (or those around the cursor); refusals in red.
func (in *Inspector) View(st styles, w, h int) []string {
	filter := "all bottles"
	if in.bottle != "" {
		filter = "bottle " + in.bottle
	}
	if in.refusedOnly {
		filter += ", refused only"
	}
	out := []string{st.header.Render(fit(clean("Egress decisions · "+filter), w, false))}
	rows := in.rows()
	if len(rows) == 0 {
		return append(out, st.faint.Render(fit("No egress decisions yet. They appear here as the agents make requests.", w, false)))
	}
	room := max(h-2, 1)
	out = append(out, st.header.Render(fit("  TIME     BOTTLE        METHOD HOST                     PATH                 STATUS DECISION REASON", w, false)))
	sel := in.selected(len(rows))
	first := max(min(sel-room+1, len(rows)-room), 0)
	for i := first; i < len(rows) && i < first+room; i++ {
		e := rows[i]
		status := "-"
		if e.Status != 0 {
			status = strconv.Itoa(e.Status)
		}
		line := fmt.Sprintf("%s %-13s %-6s %-24s %-20s %-6s %-8s %s", e.Time.Local().Format("15:04:05"),
			fit(clean(e.Bottle), 13, true), fit(clean(e.Method), 6, true), fit(clean(e.Host), 24, true),
			fit(clean(e.Path), 20, true), status, clean(e.Decision), clean(e.Reason))
		switch {
		case i == sel:
			out = append(out, st.selected.Render(fit("> "+line, w, true)))
		case e.Refused():
			out = append(out, st.errText.Render(fit("  "+line, w, false)))
		default:
			out = append(out, fit("  "+line, w, false))
		}
	}
	return out
}
