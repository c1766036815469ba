package tui

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// fake is a hand-written Service: a fixed queue that records decisions.
type fake struct {
	items   []apply.Item
	decided []apply.Decision
	policy  string
	failing error
}

func (f *fake) Pending() ([]apply.Item, []error) {
	return append([]apply.Item(nil), f.items...), nil
}

func (f *fake) Preview(it apply.Item, file string) (string, string, error) {
	switch it.Proposal.Tool {
	case queue.ToolEgressAllow, queue.ToolEgressBlock:
		if _, err := apply.ParseRoutes(file); err != nil {
			return f.policy, "", err
		}
		return f.policy, f.policy + strings.ReplaceAll("\n"+strings.TrimRight(file, "\n"), "\n", "\n    ")[1:] + "\n", nil
	}
	return "", file, nil
}

func (f *fake) Decide(it apply.Item, d apply.Decision) error {
	if err := apply.Check(it.Proposal.Tool, d); err != nil {
		return err
	}
	if f.failing != nil {
		return f.failing
	}
	f.decided = append(f.decided, d)
	for i, x := range f.items {
		if x.Proposal.ID == it.Proposal.ID {
			f.items = append(f.items[:i], f.items[i+1:]...)
			break
		}
	}
	return nil
}

func item(id, slug, label, tool, file string, ago time.Duration) apply.Item {
	p := queue.Proposal{
		ID: id, BottleSlug: slug, Tool: tool, ProposedFile: file,
		Justification:    "The build downloads modules from this host; without it `go mod download` fails with a proxy refusal.",
		ArrivalTimestamp: now.Add(-ago),
	}
	it := apply.Item{Proposal: p, Slug: slug, Label: label, Summary: apply.Summarize(p)}
	if tool == queue.ToolCapabilityBlock {
		it.BuildReach = []string{"api.github.com", "deb.debian.org", "security.debian.org"}
	}
	return it
}

const (
	id1 = "11111111-1111-4111-8111-111111111111"
	id2 = "22222222-2222-4222-8222-222222222222"
	id3 = "33333333-3333-4333-8333-333333333333"
)

func sample() *fake {
	f := &fake{
		policy: "egress:\n  routes:\n    - host: api.anthropic.com\n",
		items: []apply.Item{
			item(id1, "impl-k3x9q", "", queue.ToolEgressAllow, "- host: proxy.golang.org\n- host: sum.golang.org\n", 3*time.Minute),
			item(id2, "review-a1b2c", "docs review", queue.ToolCapabilityBlock, "RUN apt-get install -y jq\nRUN pip install x\n", 42*time.Second),
			item(id3, "impl-k3x9q", "", queue.ToolGitleaksAllow, "aws-access-token at config/dev.env:3 (commit 1a2b3c4)\n", 5*time.Second),
		},
	}
	f.items[2].Proposal.Justification = "Push to refs/heads/main held by git-gate.\n\nThe key is a documented test fixture."
	return f
}

func newModel(t *testing.T, f *fake, w, h int) (*Model, *int) {
	t.Helper()
	bells := 0
	m := New(Options{
		Service:  f,
		Now:      func() time.Time { return now },
		Renderer: lipgloss.NewRenderer(io.Discard),
		Bell:     func() { bells++ },
		TempDir:  t.TempDir(),
	})
	send(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	send(t, m, pendingMsg{items: must(f.Pending())})
	return m, &bells
}

func must(items []apply.Item, _ []error) []apply.Item { return items }

// send delivers msg and runs the commands it returns, feeding their
// messages back, as the program would (no ticks, no processes: a message
// the model does not own is returned to the test).
func send(t *testing.T, m *Model, msg tea.Msg) []tea.Msg {
	t.Helper()
	_, cmd := m.Update(msg)
	return run(t, m, cmd)
}

func run(t *testing.T, m *Model, cmd tea.Cmd) []tea.Msg {
	t.Helper()
	if cmd == nil {
		return nil
	}
	var left []tea.Msg
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			left = append(left, run(t, m, c)...)
		}
	case pendingMsg, previewMsg, decidedMsg, editReadyMsg, editorDoneMsg, editedMsg, eventsMsg, draftDoneMsg, filedMsg:
		left = append(left, send(t, m, msg)...)
	default:
		left = append(left, msg)
	}
	return left
}

func keys(t *testing.T, m *Model, ks ...string) []tea.Msg {
	t.Helper()
	var left []tea.Msg
	for _, k := range ks {
		left = append(left, send(t, m, keyMsg(k))...)
	}
	return left
}

func keyMsg(k string) tea.KeyMsg {
	switch k {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case " ":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

func typed(s string) []string {
	var ks []string
	for _, r := range s {
		ks = append(ks, string(r))
	}
	return ks
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestViews(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
		f    func() *fake
		keys []string
	}{
		{"list-80x24", 80, 24, sample, nil},
		{"list-cursor-40x10", 40, 10, sample, []string{"down"}},
		{"empty-100x8", 100, 8, func() *fake { return &fake{} }, nil},
		{"detail-egress-80x24", 80, 24, sample, []string{"enter"}},
		{"detail-capability-80x20", 80, 20, sample, []string{"down", "enter"}},
		{"detail-gitleaks-prompt-60x16", 60, 16, sample, []string{"down", "down", "enter", "a"}},
		{"prompt-required-60x16", 60, 16, sample, []string{"down", "down", "a", "enter"}},
		{"reject-prompt-80x12", 80, 12, sample, append([]string{"r"}, typed("not now")...)},
		{"modify-refused-80x12", 80, 12, sample, []string{"down", "down", "m"}},
		{"approved-notice-80x12", 80, 12, sample, []string{"a", "enter"}},
		{"approve-menu-80x16", 80, 16, sample, []string{"a"}},
		{"detail-scrolled-80x12", 80, 12, sample, []string{"enter", "down", "down", "down"}},
		{"detail-stale-80x16", 80, 16, func() *fake { f := sample(); f.items[0].Stale = true; return f }, []string{"enter"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newModel(t, tc.f(), tc.w, tc.h)
			keys(t, m, tc.keys...)
			v := m.View()
			if n := strings.Count(v, "\n") + 1; n != tc.h {
				t.Errorf("view has %d lines, want %d", n, tc.h)
			}
			for i, l := range strings.Split(v, "\n") {
				if n := len([]rune(l)); n > tc.w {
					t.Errorf("line %d is %d cells wide, want <= %d: %q", i+1, n, tc.w, l)
				}
			}
			golden(t, tc.name, v)
		})
	}
}

func TestApproveFromList(t *testing.T) {
	f := sample()
	m, _ := newModel(t, f, 80, 24)
	keys(t, m, "a", "enter") // the default: the narrowest scope
	want := []apply.Decision{{Status: queue.StatusApproved, Limits: apply.Limits{TTL: time.Hour, Session: true}}}
	if diff := cmp.Diff(want, f.decided); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if len(m.list.items) != 2 {
		t.Errorf("list still holds %d items, want 2", len(m.list.items))
	}
	if !strings.Contains(m.View(), "approved egress-allow from impl-k3x9q") {
		t.Errorf("no notice:\n%s", m.View())
	}
}

func TestHoldNeedsReason(t *testing.T) {
	f := sample()
	m, _ := newModel(t, f, 80, 24)
	keys(t, m, "down", "down", "enter", "a", "enter", " ", "enter")
	if len(f.decided) != 0 {
		t.Fatalf("approved without a reason: %+v", f.decided)
	}
	if !strings.Contains(m.View(), "a reason is required") {
		t.Errorf("no warning:\n%s", m.View())
	}
	keys(t, m, append(typed("fixture key"), "backspace", "y", "enter")...)
	want := []apply.Decision{{Status: queue.StatusApproved, Notes: "fixture key"}}
	if diff := cmp.Diff(want, f.decided); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if m.detail != nil {
		t.Error("detail still open after the decision")
	}
}

func TestHoldCannotBeModified(t *testing.T) {
	f := sample()
	m, _ := newModel(t, f, 80, 24)
	left := keys(t, m, "down", "down", "enter", "m")
	if len(left) != 0 || m.prompt != nil {
		t.Errorf("modify started on a hold: %v", left)
	}
	if !strings.Contains(m.View(), "cannot be modified") {
		t.Errorf("no notice:\n%s", m.View())
	}
}

func TestRejectWithReasonAndCancel(t *testing.T) {
	f := sample()
	m, _ := newModel(t, f, 80, 24)
	keys(t, m, "r", "x", "esc")
	if m.prompt != nil || len(f.decided) != 0 {
		t.Fatal("esc did not cancel")
	}
	keys(t, m, append([]string{"r"}, append(typed("too broad"), "enter")...)...)
	want := []apply.Decision{{Status: queue.StatusRejected, Notes: "too broad"}}
	if diff := cmp.Diff(want, f.decided); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
}

// edit runs the modify flow with the "editor" replaced by the test: it
// writes text into the file the model prepared.
func edit(t *testing.T, m *Model, text string) {
	t.Helper()
	left := keys(t, m, "m")
	if len(left) != 1 {
		t.Fatalf("modify returned %v, want the editor process", left)
	}
	// The model has prepared a temp file; find it and "edit" it.
	files, _ := filepath.Glob(filepath.Join(m.opt.TempDir, "bot-bottle-*"))
	if len(files) != 1 {
		t.Fatalf("temp files: %v", files)
	}
	if err := os.WriteFile(files[0], []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	send(t, m, editorDoneMsg{item: m.current(), path: files[0]})
	if files, _ := filepath.Glob(filepath.Join(m.opt.TempDir, "bot-bottle-*")); len(files) != 0 {
		t.Errorf("temp file left behind: %v", files)
	}
}

func TestModifyValidatesEdit(t *testing.T) {
	f := sample()
	m, _ := newModel(t, f, 80, 24)
	keys(t, m, "enter")
	edit(t, m, "- host: proxy.golang.org\n  hots: typo\n")
	if m.prompt != nil || len(f.decided) != 0 {
		t.Fatal("an invalid edit was accepted")
	}
	if v := m.View(); !strings.Contains(v, "edit not accepted") {
		t.Errorf("no notice:\n%s", v)
	}
	// The next edit starts from the invalid one, not from the proposal.
	left := keys(t, m, "m")
	files, _ := filepath.Glob(filepath.Join(m.opt.TempDir, "bot-bottle-*"))
	b, _ := os.ReadFile(files[0])
	if len(left) != 1 || !strings.Contains(string(b), "hots: typo") {
		t.Errorf("re-edit starts from %q", b)
	}
	final := "- host: proxy.golang.org\n  matches:\n    - methods: [GET]\n"
	os.WriteFile(files[0], []byte(final), 0o600)
	send(t, m, editorDoneMsg{item: m.current(), path: files[0]})
	if m.prompt == nil {
		t.Fatalf("no note prompt after a valid edit:\n%s", m.View())
	}
	if v := m.View(); !strings.Contains(v, "+     - host: proxy.golang.org") || !strings.Contains(v, "methods: [GET]") {
		t.Errorf("the diff does not show the edit:\n%s", v)
	}
	keys(t, m, append(typed("GET only"), "enter")...)
	if !strings.Contains(m.View(), "Approve for how long?") {
		t.Fatalf("a modified route is not scoped:\n%s", m.View())
	}
	keys(t, m, "2")
	want := []apply.Decision{{Status: queue.StatusModified, Notes: "GET only", FinalFile: final, Limits: apply.Limits{Session: true}}}
	if diff := cmp.Diff(want, f.decided); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
}

func TestModifyUnchangedDecidesNothing(t *testing.T) {
	f := sample()
	m, _ := newModel(t, f, 80, 24)
	edit(t, m, f.items[0].Proposal.ProposedFile)
	if m.prompt != nil || len(f.decided) != 0 || !strings.Contains(m.View(), "no change made") {
		t.Errorf("unchanged edit: prompt=%v decided=%v\n%s", m.prompt, f.decided, m.View())
	}
}

func TestNewProposalRingsBell(t *testing.T) {
	f := sample()
	m, bells := newModel(t, f, 80, 24)
	if *bells != 0 {
		t.Errorf("bell on first load")
	}
	keys(t, m, "down") // select the second row
	f.items = append([]apply.Item{item("44444444-4444-4444-8444-444444444444", "x-aaaaa", "", queue.ToolEgressBlock, "- host: a.example\n", time.Hour)}, f.items...)
	send(t, m, pendingMsg{items: must(f.Pending())})
	if *bells != 1 {
		t.Errorf("bells = %d, want 1", *bells)
	}
	if sel, _ := m.list.Selected(); sel.Proposal.ID != id2 {
		t.Errorf("selection moved to %s", sel.Proposal.ID)
	}
	if !strings.Contains(m.View(), "1 new proposal") {
		t.Errorf("no notice:\n%s", m.View())
	}
	send(t, m, pendingMsg{items: must(f.Pending())})
	if *bells != 1 {
		t.Errorf("bells = %d after a reload with nothing new", *bells)
	}
}

func TestAnsweredElsewhereClosesDetail(t *testing.T) {
	f := sample()
	m, _ := newModel(t, f, 80, 24)
	keys(t, m, "enter", "r")
	f.items = f.items[1:]
	send(t, m, pendingMsg{items: must(f.Pending())})
	if m.detail != nil || m.prompt != nil {
		t.Error("detail or prompt still open for an answered proposal")
	}
	keys(t, m, "enter")
	if m.detail == nil || m.detail.Item().Proposal.ID != id2 {
		t.Errorf("enter opens the wrong proposal")
	}
}

func TestDecideErrorIsShown(t *testing.T) {
	f := sample()
	f.failing = errors.New("disk full")
	m, _ := newModel(t, f, 80, 24)
	keys(t, m, "a", "4")
	if !strings.Contains(m.View(), "could not answer 11111111: disk full") {
		t.Errorf("error not shown:\n%s", m.View())
	}
	if len(m.list.items) != 3 {
		t.Error("a failed decision removed the proposal")
	}
}

func TestAgentTextCannotDrawControlSequences(t *testing.T) {
	f := &fake{items: []apply.Item{item(id1, "impl-k3x9q", "\x1b[2J", queue.ToolGitleaksAllow, "evil\x1b]0;title\x07 \u202etxt.exe", time.Second)}}
	f.items[0].Proposal.Justification = "ok\x1b[31mred"
	m, _ := newModel(t, f, 80, 24)
	for _, v := range []string{m.View(), func() string { keys(t, m, "enter"); return m.View() }()} {
		if strings.ContainsAny(v, "\x1b\x07\u202e") {
			t.Errorf("control characters reach the screen: %q", v)
		}
	}
}

func TestQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		m, _ := newModel(t, sample(), 80, 24)
		left := keys(t, m, k)
		if len(left) != 1 || left[0] != tea.Quit() {
			t.Errorf("%s: got %v, want quit", k, left)
		}
	}
}

func TestLineDiff(t *testing.T) {
	got := lineDiff([]string{"a", "b", "c"}, []string{"a", "x", "c", "d"})
	want := []diffLine{{same, "a"}, {del, "b"}, {add, "x"}, {same, "c"}, {add, "d"}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(diffLine{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Approving a proven egress-block offers, first, the refused request's
// method and directory for an hour of this run; 4 keeps it for good.
func TestApproveMenuNarrowestFitsRefusal(t *testing.T) {
	f := sample()
	f.items[0].Proposal.Tool = queue.ToolEgressBlock
	f.items[0].Proposal.Justification = queue.ProvenMark + " (refusal rf-0123456789abcdef): POST https://proxy.golang.org/v1/items/42 refused at 2026-12-07T06:00:00Z\n"
	m, _ := newModel(t, f, 80, 24)
	keys(t, m, "a")
	if !strings.Contains(m.View(), "1  POST under /v1/items/ only, for 1 hour, this run only (default)") {
		t.Fatalf("menu:\n%s", m.View())
	}
	keys(t, m, "esc")
	if len(f.decided) != 0 || m.menu != nil {
		t.Fatalf("esc did not cancel: %+v", f.decided)
	}
	keys(t, m, "a", "enter")
	want := []apply.Decision{{Status: queue.StatusApproved, Limits: apply.Limits{TTL: time.Hour, Session: true, Methods: []string{"POST"}, PathPrefixes: []string{"/v1/items/"}}}}
	if diff := cmp.Diff(want, f.decided); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
}
