package tui

import (
	"strings"

	tea "github.com/charmbracelet/bubbletea"
)

// Prompt reads one line of text: the reason for a decision.
type Prompt struct {
	// Label says what is asked.
	Label string
	// Required refuses an empty answer.
	Required bool
	value    []rune
	problem  string
}

// HandleMsg edits the line; enter submits it, esc cancels.
func (p *Prompt) HandleMsg(msg tea.Msg) Action {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return Action{}
	}
	switch k.Type {
	case tea.KeyEnter:
		v := strings.TrimSpace(string(p.value))
		if p.Required && v == "" {
			p.problem = "a reason is required"
			return Action{}
		}
		return Action{Kind: Submit, Text: v}
	case tea.KeyEsc:
		return Action{Kind: Cancel}
	case tea.KeyCtrlC:
		return Action{Kind: Quit}
	case tea.KeyBackspace:
		if len(p.value) > 0 {
			p.value = p.value[:len(p.value)-1]
		}
	case tea.KeyCtrlU:
		p.value = nil
	case tea.KeySpace:
		p.value = append(p.value, ' ')
	case tea.KeyRunes:
		for _, r := range k.Runes {
			if r >= ' ' && r != 0x7f {
				p.value = append(p.value, r)
			}
		}
	}
	p.problem = ""
	return Action{}
}

// Value is the text typed so far.
func (p *Prompt) Value() string { return string(p.value) }

const promptHelp = "enter confirm · esc cancel"

// View draws the prompt in two lines of w cells: the line being typed and
// the help (after the problem with the answer, if any).
func (p *Prompt) View(st styles, w int) []string {
	line := p.Label + ": " + clean(string(p.value)) + "█"
	r := []rune(line)
	if len(r) > w {
		line = "…" + string(r[len(r)-w+1:])
	}
	if p.problem != "" {
		return []string{st.header.Render(line), st.errText.Render(fit(p.problem+" · "+promptHelp, w, false))}
	}
	return []string{st.header.Render(line), st.help.Render(fit(promptHelp, w, false))}
}
