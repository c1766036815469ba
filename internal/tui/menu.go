package tui

import (
	"fmt"
	"net/url"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/inspect"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// Choice is one way to scope an approval.
type Choice struct {
	Label  string
	Limits apply.Limits
}

// Menu picks the scope of an approved route; the first choice, the
// narrowest that fits the request, is the default.
type Menu struct {
	Choices []Choice
	at      int
}

// grantChoices are the scopes offered for an egress proposal. When the
// proxy's record names the refused request, the narrowest also limits the
// route to its method and the path's directory.
func grantChoices(p queue.Proposal) []Choice {
	narrow := apply.Limits{TTL: time.Hour, Session: true}
	label := "for 1 hour, this run only"
	if m, u, ok := queue.ProvenRequest(p); ok {
		if pu, err := url.Parse(u); err == nil && m != "CONNECT" {
			narrow.Methods = []string{m}
			label = m + " only, " + label
			if dir := inspect.DirOf(pu.Path); dir != "/" {
				narrow.PathPrefixes = []string{dir}
				label = fmt.Sprintf("%s under %s only, for 1 hour, this run only", m, dir)
			}
		}
	}
	return []Choice{
		{label, narrow},
		{"this run only", apply.Limits{Session: true}},
		{"10 uses within 1 hour", apply.Limits{TTL: time.Hour, Uses: 10}},
		{"for good (kept across runs)", apply.Limits{}},
	}
}

// HandleMsg moves the selection; enter or a digit picks, esc cancels.
func (m *Menu) HandleMsg(msg tea.Msg) (Action, apply.Limits) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return Action{}, apply.Limits{}
	}
	switch k.String() {
	case "up", "k":
		m.at = max(m.at-1, 0)
	case "down", "j":
		m.at = min(m.at+1, len(m.Choices)-1)
	case "enter":
		return Action{Kind: Submit}, m.Choices[m.at].Limits
	case "esc":
		return Action{Kind: Cancel}, apply.Limits{}
	case "ctrl+c":
		return Action{Kind: Quit}, apply.Limits{}
	default:
		s := k.String()
		if len(s) == 1 && s[0] >= '1' && int(s[0]-'1') < len(m.Choices) {
			return Action{Kind: Submit}, m.Choices[s[0]-'1'].Limits
		}
	}
	return Action{}, apply.Limits{}
}

const menuHelp = "1-4 or ↑↓ enter pick · esc cancel"

// View draws the menu: a title, one line per choice, the help.
func (m *Menu) View(st styles, w int) []string {
	lines := []string{st.header.Render(fit("Approve for how long?", w, false))}
	for i, c := range m.Choices {
		mark := "  "
		if i == m.at {
			mark = "▸ "
		}
		line := fmt.Sprintf("%s%d  %s", mark, i+1, c.Label)
		if i == 0 {
			line += " (default)"
		}
		lines = append(lines, fit(clean(line), w, false))
	}
	return append(lines, st.help.Render(fit(menuHelp, w, false)))
}
