package tui

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// An egress-block the proxy never saw is drawn in red (list row and the
// first justification line); one the proxy recorded is not.
func TestAgentsClaimInRed(t *testing.T) {
	st, redStart := colorStyles()
	mk := func(just string) apply.Item {
		p := queue.Proposal{ID: "a", Tool: queue.ToolEgressBlock, ProposedFile: "- host: evil.example\n", Justification: just, ArrivalTimestamp: time.Now()}
		return apply.Item{Proposal: p, Slug: "impl-k3x9q", Summary: apply.Summarize(p)}
	}
	claim := mk(queue.UnprovenMark + " (no refusal ID given)\nRefused request (agent's claim): GET https://evil.example/x\n\n" + queue.AgentWords + " trust me")
	proven := mk(queue.ProvenMark + " (refusal rf-0123456789abcdef): GET https://evil.example/x refused\n\n" + queue.AgentWords + " ok")
	for _, tc := range []struct {
		it      apply.Item
		wantRed bool
	}{{claim, true}, {proven, false}} {
		var l List
		l.SetItems([]apply.Item{tc.it, tc.it})
		row := l.View(st, time.Now(), 120, 5)[2] // not the selected row
		if strings.Contains(row, redStart) != tc.wantRed {
			t.Errorf("list row red=%v, want %v: %q", !tc.wantRed, tc.wantRed, row)
		}
		d := NewDetail(tc.it)
		view := strings.Join(d.View(st, time.Now(), 120, 40), "\n")
		if strings.Contains(view, redStart+"Not seen by the proxy") != tc.wantRed {
			t.Errorf("detail red=%v, want %v:\n%s", !tc.wantRed, tc.wantRed, view)
		}
	}
}

// A proposed host that looks like it carries data gets a red warning the
// operator's side computed itself; an ordinary host gets none.
func TestEncodedHostWarnedInRed(t *testing.T) {
	st, redStart := colorStyles()
	hx := "726f6f743a783a303a303a726f6f743a2f726f6f743a2f62696e2f626173680a"
	for host, want := range map[string]bool{hx + ".t.example.com": true, "api.github.com": false} {
		p := queue.Proposal{ID: "a", Tool: queue.ToolEgressAllow, ProposedFile: "- host: " + host + "\n", Justification: "need it", ArrivalTimestamp: time.Now()}
		d := NewDetail(apply.Item{Proposal: p, Slug: "impl-k3x9q", Summary: apply.Summarize(p)})
		view := strings.Join(d.View(st, time.Now(), 200, 40), "\n")
		if got := strings.Contains(view, redStart+"WARNING: host"); got != want {
			t.Errorf("%s: warned=%v, want %v:\n%s", host, got, want, view)
		}
	}
}

// A proven egress-block whose routes reach past the refused host: the
// proxy's record backs only that host, and the detail says so in red.
func TestProvenRefusalWarnsOfOtherHosts(t *testing.T) {
	st, redStart := colorStyles()
	just := queue.ProvenMark + " (refusal rf-0123456789abcdef): GET https://pypi.org/simple/x refused at 2026-12-07T06:00:00Z\n\n" + queue.AgentWords + " ok"
	for file, want := range map[string]string{
		"- host: pypi.org\n- host: evil.example\n": "WARNING: the route for evil.example is not for pypi.org, the host the proxy refused",
		"- host: pypi.org\n":                       "",
	} {
		p := queue.Proposal{ID: "a", Tool: queue.ToolEgressBlock, ProposedFile: file, Justification: just, ArrivalTimestamp: time.Now()}
		view := strings.Join(NewDetail(apply.Item{Proposal: p, Slug: "impl-k3x9q"}).View(st, time.Now(), 200, 40), "\n")
		if want == "" && strings.Contains(view, "WARNING") {
			t.Errorf("%q warned:\n%s", file, view)
		}
		if want != "" && !strings.Contains(view, redStart+want) {
			t.Errorf("%q: no red %q:\n%s", file, want, view)
		}
	}
}

// colorStyles are the styles at 256 colours, and what begins red text.
func colorStyles() (styles, string) {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	st := newStyles(r)
	red := st.errText.Render("X")
	return st, red[:strings.Index(red, "X")]
}
