package tui

import (
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

func TestListKeys(t *testing.T) {
	var l List
	if a := l.HandleMsg(keyMsg("a")); a.Kind != None {
		t.Errorf("a on an empty list = %v, want None", a)
	}
	if a := l.HandleMsg(keyMsg("q")); a.Kind != Quit {
		t.Errorf("q on an empty list = %v, want Quit", a)
	}
	l.SetItems(sample().items)
	for _, tc := range []struct {
		key    string
		want   Kind
		cursor int
	}{
		{"up", None, 0},
		{"down", None, 1},
		{"j", None, 2},
		{"down", None, 2},
		{"k", None, 1},
		{"enter", Open, 1},
		{"a", Approve, 1},
		{"m", Modify, 1},
		{"r", Reject, 1},
		{"x", None, 1},
		{"G", None, 2},
		{"g", None, 0},
		{"ctrl+c", Quit, 0},
	} {
		if a := l.HandleMsg(keyMsg(tc.key)); a.Kind != tc.want || l.cursor != tc.cursor {
			t.Errorf("%s: action %v cursor %d, want %v cursor %d", tc.key, a.Kind, l.cursor, tc.want, tc.cursor)
		}
	}
	if a := l.HandleMsg(tea.WindowSizeMsg{}); a.Kind != None {
		t.Errorf("non-key message = %v", a)
	}
}

func TestDetailKeys(t *testing.T) {
	d := NewDetail(sample().items[0])
	d.SetPreview("a\n", "a\nb\n", nil)
	var got []Kind
	for _, k := range []string{"down", "a", "m", "r", "esc", "backspace", "q", "z"} {
		got = append(got, d.HandleMsg(keyMsg(k)).Kind)
	}
	want := []Kind{None, Approve, Modify, Reject, Back, Back, Quit, None}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if d.scroll != 1 {
		t.Errorf("scroll = %d after down", d.scroll)
	}
	if d.HandleMsg(keyMsg("up")); d.scroll != 0 {
		t.Errorf("scroll = %d after up", d.scroll)
	}
	if d.HandleMsg(keyMsg("up")); d.scroll != 0 {
		t.Errorf("scroll = %d above the top", d.scroll)
	}
}

func TestPromptKeys(t *testing.T) {
	p := &Prompt{Label: "why", Required: true}
	if a := p.HandleMsg(keyMsg("enter")); a.Kind != None || p.problem == "" {
		t.Errorf("empty required answer: %v problem %q", a, p.problem)
	}
	for _, k := range []string{"o", "k", " ", "!", "backspace"} {
		p.HandleMsg(keyMsg(k))
	}
	if p.problem != "" {
		t.Errorf("problem not cleared by typing: %q", p.problem)
	}
	// Pasted control characters are dropped, not typed.
	p.HandleMsg(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("\x1b[2J")})
	if a := p.HandleMsg(keyMsg("enter")); a != (Action{Kind: Submit, Text: "ok [2J"}) {
		t.Errorf("submit = %+v", a)
	}
	if a := p.HandleMsg(keyMsg("esc")); a.Kind != Cancel {
		t.Errorf("esc = %v", a)
	}
	opt := &Prompt{}
	if a := opt.HandleMsg(keyMsg("enter")); a != (Action{Kind: Submit}) {
		t.Errorf("empty optional answer = %+v", a)
	}
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 42 * time.Second: "42s", 5 * time.Minute: "5m",
		3 * time.Hour: "3h", 47 * time.Hour: "47h", 72 * time.Hour: "3d",
	} {
		if got := age(now, now.Add(-d)); got != want {
			t.Errorf("age(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestHoldDetailShowsFileNotDiff(t *testing.T) {
	it := apply.Item{Proposal: queue.Proposal{ID: id3, Tool: queue.ToolEgressTokenAllow, ProposedFile: "x"}}
	d := NewDetail(it)
	d.SetPreview("", "github_pat in body of POST https://api.example/v1\n", nil)
	if !d.plain || len(d.diff) != 1 || d.diff[0].op != same {
		t.Errorf("hold detail = %+v", d.diff)
	}
}
