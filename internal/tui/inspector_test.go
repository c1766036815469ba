package tui

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/bot-bottle/bot-bottle/internal/supervise/inspect"
)

type fakeEvents struct{ evs []inspect.Event }

func (f *fakeEvents) Poll() ([]inspect.Event, error) {
	evs := f.evs
	f.evs = nil
	return evs, nil
}

var sampleEvents = []inspect.Event{
	{Time: now, Bottle: "impl-k3x9q", Method: "GET", Scheme: "https", Host: "pypi.org", Port: 443, Path: "/simple/", Status: 200, Decision: "allow", Reason: "route pypi.org allows GET /simple/"},
	{Time: now.Add(time.Second), Bottle: "impl-k3x9q", Method: "POST", Scheme: "https", Host: "api.evil.test", Port: 443, Path: "/v1/up", Status: 403, Decision: "refuse", Code: "no-route", Reason: "no egress route allows host api.evil.test", RefusalID: "rf-0123456789abcdef"},
	{Time: now.Add(2 * time.Second), Bottle: "review-a1b2c", Method: "GET", Scheme: "https", Host: "docs.test", Port: 443, Path: "/", Status: 200, Decision: "allow", Reason: "route docs.test allows GET /"},
}

// The inspector lists every decision, filters to refusals and to one
// bottle, and n on a refusal opens the drafted route in the editor.
func TestInspectorFilters(t *testing.T) {
	src := &fakeEvents{evs: sampleEvents}
	var filed []string
	m := New(Options{
		Service: sample(), Now: func() time.Time { return now }, Renderer: lipgloss.NewRenderer(io.Discard),
		TempDir: t.TempDir(), Events: src, Editor: []string{"true"},
		File: func(slug, text, rid string) (string, error) {
			filed = append(filed, slug+" "+rid+" "+text)
			return "x", nil
		},
	})
	send(t, m, tea.WindowSizeMsg{Width: 160, Height: 20})
	send(t, m, eventsMsg{events: must2(src.Poll())})
	keys(t, m, "i")
	v := m.View()
	for _, want := range []string{"Egress decisions · all bottles", "pypi.org", "api.evil.test", "docs.test", "403", "refuse"} {
		if !strings.Contains(v, want) {
			t.Errorf("inspector lacks %q:\n%s", want, v)
		}
	}
	keys(t, m, "f")
	if v := m.View(); strings.Contains(v, "pypi.org") || !strings.Contains(v, "api.evil.test") || !strings.Contains(v, "refused only") {
		t.Errorf("refused only:\n%s", v)
	}
	keys(t, m, "f", "b", "b")
	if v := m.View(); strings.Contains(v, "pypi.org") || !strings.Contains(v, "docs.test") || !strings.Contains(v, "bottle review-a1b2c") {
		t.Errorf("one bottle:\n%s", v)
	}
	keys(t, m, "b", "n") // the selection is the newest, an allowed one: no draft
	if m.notice != "" || len(filed) != 0 {
		t.Errorf("n on an allowed request drafted: %q %v", m.notice, filed)
	}
	keys(t, m, "f")
	if e, ok := m.inspector.Selected(); !ok || e.RefusalID != "rf-0123456789abcdef" {
		t.Fatalf("selected %+v", e)
	}
	// n runs the editor (a tea.ExecProcess); its end is fed back here.
	keys(t, m, "n")
	draft := inspect.Draft(sampleEvents[1])
	path := t.TempDir() + "/d.yaml"
	if err := os.WriteFile(path, []byte(draft), 0o600); err != nil {
		t.Fatal(err)
	}
	send(t, m, draftDoneMsg{event: sampleEvents[1], path: path})
	if len(filed) != 1 || !strings.HasPrefix(filed[0], "impl-k3x9q rf-0123456789abcdef ") || !strings.Contains(filed[0], "- POST") {
		t.Fatalf("filed %v", filed)
	}
	if m.inspecting || !strings.Contains(m.View(), "your route for impl-k3x9q is filed") {
		t.Errorf("after filing:\n%s", m.View())
	}
}

func must2(evs []inspect.Event, _ error) []inspect.Event { return evs }
