// Package tui is the operator's terminal UI over every bottle's supervise
// queue (bubbletea). Components (List, Detail, Prompt) turn keys into
// Actions and never touch files; the root Model carries the actions out
// through a Service and commands.
package tui

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/inspect"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// Service is what the UI needs from the host: apply.Operator in the
// program, a small fake in tests.
type Service interface {
	Pending() ([]apply.Item, []error)
	Preview(it apply.Item, file string) (before, after string, err error)
	Decide(it apply.Item, d apply.Decision) error
}

// Options configure the UI.
type Options struct {
	Service Service
	// Now is the clock for ages; nil means time.Now.
	Now func() time.Time
	// Poll is how often the queues are read; 0 means one second.
	Poll time.Duration
	// Editor is the command (and arguments) run on the file to modify;
	// the file name is appended.
	Editor []string
	// TempDir holds the file being edited; "" means the system default.
	TempDir string
	// Bell is called when new proposals arrive; nil for none.
	Bell func()
	// Renderer styles the output; nil means the default renderer.
	Renderer *lipgloss.Renderer
	// Events feeds the inspector pane (key i); nil means no pane.
	Events Source
	// File files the operator's drafted route in slug's queue.
	File func(slug, text, refusalID string) (id string, err error)
}

// Model is the root model.
type Model struct {
	opt    Options
	st     styles
	width  int
	height int

	loaded bool
	seen   map[string]bool
	errs   []error
	list   List
	detail *Detail
	prompt *Prompt
	asking asking
	// menu scopes an egress approval (menuItem is what it approves).
	menu     *Menu
	menuItem apply.Item
	menuBase apply.Decision // the answer the picked limits complete
	// inspector is the live egress pane; shown while inspecting.
	inspector  Inspector
	inspecting bool
	eventErr   error
	// edits keeps the operator's last edit per proposal, so an invalid
	// edit is reopened rather than lost.
	edits  map[string]string
	notice string
	bad    bool // the notice is an error
}

// asking is the decision a prompt's answer completes.
type asking struct {
	item   apply.Item
	status string
	final  string
}

// Messages the root model sends itself.
type (
	tickMsg       struct{}
	eventsTickMsg struct{}
	pendingMsg    struct {
		items []apply.Item
		errs  []error
	}
	previewMsg struct {
		id            string
		before, after string
		err           error
	}
	decidedMsg struct {
		item apply.Item
		d    apply.Decision
		err  error
	}
	editReadyMsg struct {
		item apply.Item
		path string
		err  error
	}
	editorDoneMsg struct {
		item apply.Item
		path string
		err  error
	}
	editedMsg struct {
		item apply.Item
		text string
		err  error
	}
	eventsMsg struct {
		events []inspect.Event
		err    error
	}
	draftDoneMsg struct {
		event inspect.Event
		path  string
		err   error
	}
	filedMsg struct {
		event inspect.Event
		id    string
		err   error
	}
)

// New returns the root model.
func New(o Options) *Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if len(o.Editor) == 0 {
		o.Editor = []string{"vi"}
	}
	r := o.Renderer
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	return &Model{opt: o, st: newStyles(r), width: 80, height: 24, seen: map[string]bool{}, edits: map[string]string{}}
}

// Init loads the queues and starts polling.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.load(), m.tick(), m.pollEvents()) }

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.opt.Poll, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m *Model) load() tea.Cmd {
	svc := m.opt.Service
	return func() tea.Msg {
		items, errs := svc.Pending()
		return pendingMsg{items, errs}
	}
}

// eventsEvery is how often the inspector reads the egress logs, however
// seldom the queues are read: a refusal shows well within a second.
const eventsEvery = 200 * time.Millisecond

// pollEvents reads the new egress decisions. One read at a time: the next
// is scheduled when this one's answer arrives (eventsMsg).
func (m *Model) pollEvents() tea.Cmd {
	src := m.opt.Events
	if src == nil {
		return nil
	}
	return func() tea.Msg {
		evs, err := src.Poll()
		return eventsMsg{evs, err}
	}
}

func (m *Model) eventsTick() tea.Cmd {
	return tea.Tick(min(m.opt.Poll, eventsEvery), func(time.Time) tea.Msg { return eventsTickMsg{} })
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tickMsg:
		return m, tea.Batch(m.load(), m.tick())
	case pendingMsg:
		return m, m.setPending(msg)
	case previewMsg:
		if m.detail != nil && m.detail.Item().Proposal.ID == msg.id {
			m.detail.SetPreview(msg.before, msg.after, msg.err)
		}
		return m, nil
	case decidedMsg:
		return m, m.decided(msg)
	case editReadyMsg:
		if msg.err != nil {
			m.say(true, "cannot edit: %v", msg.err)
			return m, nil
		}
		c := exec.Command(m.opt.Editor[0], append(m.opt.Editor[1:], msg.path)...)
		return m, tea.ExecProcess(c, func(err error) tea.Msg { return editorDoneMsg{msg.item, msg.path, err} })
	case editorDoneMsg:
		return m, readEdit(msg)
	case editedMsg:
		return m, m.edited(msg)
	case eventsMsg:
		m.inspector.Add(msg.events)
		m.eventErr = msg.err
		return m, m.eventsTick()
	case eventsTickMsg:
		return m, m.pollEvents()
	case draftDoneMsg:
		return m, m.fileDraft(msg)
	case filedMsg:
		if msg.err != nil {
			m.say(true, "route not filed: %s", firstLineOf(msg.err.Error()))
			return m, nil
		}
		m.inspecting = false
		m.seen[msg.id] = true // the operator's own: no "new proposal" notice
		m.say(false, "your route for %s is filed: approve it below (a) to apply it live", msg.event.Bottle)
		return m, m.load()
	case tea.KeyMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// key routes a key to the component in front and carries out its action.
func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	var a Action
	if m.menu != nil {
		return m.menuKey(k)
	}
	if m.prompt == nil && m.detail == nil && m.opt.Events != nil && (m.inspecting || k.String() == "i") {
		return m.inspectKey(k)
	}
	switch {
	case m.prompt != nil:
		a = m.prompt.HandleMsg(k)
	case m.detail != nil:
		a = m.detail.HandleMsg(k)
	default:
		a = m.list.HandleMsg(k)
	}
	if a.Kind != None {
		m.notice = ""
	}
	switch a.Kind {
	case Quit:
		return tea.Quit
	case Open:
		it, _ := m.list.Selected()
		m.detail = NewDetail(it)
		return m.preview(it)
	case Back:
		m.detail = nil
	case Approve:
		it := m.current()
		if apply.NeedsReason(it.Proposal.Tool) {
			m.ask(it, queue.StatusApproved, "", "Reason to approve "+it.Proposal.Tool+" (required)", true)
			return nil
		}
		if t := it.Proposal.Tool; t == queue.ToolEgressAllow || t == queue.ToolEgressBlock {
			m.openMenu(it, apply.Decision{Status: queue.StatusApproved})
			return nil
		}
		return m.decide(it, apply.Decision{Status: queue.StatusApproved})
	case Reject:
		it := m.current()
		m.ask(it, queue.StatusRejected, "", "Reason to reject (optional)", false)
	case Modify:
		it := m.current()
		if !apply.Editable(it.Proposal.Tool) {
			m.say(true, "%s cannot be modified: approve it with a reason, or reject it", it.Proposal.Tool)
			return nil
		}
		return m.startEdit(it)
	case Submit:
		as := m.asking
		m.prompt = nil
		d := apply.Decision{Status: as.status, Notes: a.Text, FinalFile: as.final}
		if t := as.item.Proposal.Tool; as.status == queue.StatusModified && (t == queue.ToolEgressAllow || t == queue.ToolEgressBlock) {
			m.openMenu(as.item, d) // a modified route is scoped too
			return nil
		}
		return m.decide(as.item, d)
	case Cancel:
		m.prompt = nil
	}
	return nil
}

// inspectKey opens the pane or carries out its action.
func (m *Model) inspectKey(k tea.KeyMsg) tea.Cmd {
	if !m.inspecting {
		m.inspecting = true
		return nil
	}
	switch a := m.inspector.HandleMsg(k); a.Kind {
	case Quit:
		return tea.Quit
	case Back:
		m.inspecting = false
	case Draft:
		e, _ := m.inspector.Selected()
		return m.startDraft(e)
	}
	return nil
}

// startDraft opens the narrowest route for refusal e in the editor.
func (m *Model) startDraft(e inspect.Event) tea.Cmd {
	f, err := os.CreateTemp(m.opt.TempDir, "bot-bottle-route-*.yaml")
	if err == nil {
		_, err = f.WriteString(inspect.Draft(e))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		m.say(true, "cannot draft: %v", err)
		return nil
	}
	c := exec.Command(m.opt.Editor[0], append(m.opt.Editor[1:], f.Name())...)
	return tea.ExecProcess(c, func(err error) tea.Msg { return draftDoneMsg{e, f.Name(), err} })
}

// fileDraft files the saved draft as the operator's proposal; an emptied
// file abandons it.
func (m *Model) fileDraft(msg draftDoneMsg) tea.Cmd {
	defer os.Remove(msg.path)
	if msg.err != nil {
		m.say(true, "draft abandoned: editor: %v", msg.err)
		return nil
	}
	b, err := os.ReadFile(msg.path)
	if err != nil || strings.TrimSpace(string(b)) == "" {
		m.say(false, "draft abandoned")
		return nil
	}
	file := m.opt.File
	return func() tea.Msg {
		id, err := file(msg.event.Bottle, string(b), msg.event.RefusalID)
		return filedMsg{msg.event, id, err}
	}
}

// menuKey answers the scope menu: a pick approves with its limits.
func (m *Model) menuKey(k tea.KeyMsg) tea.Cmd {
	a, l := m.menu.HandleMsg(k)
	switch a.Kind {
	case Quit:
		return tea.Quit
	case Cancel:
		m.menu = nil
	case Submit:
		m.menu = nil
		d := m.menuBase
		d.Limits = l
		return m.decide(m.menuItem, d)
	}
	return nil
}

// openMenu asks how long an approval of it (answered as base) lasts.
func (m *Model) openMenu(it apply.Item, base apply.Decision) {
	m.menu, m.menuItem, m.menuBase = &Menu{Choices: grantChoices(it.Proposal)}, it, base
}

// current is the proposal the keys act on: the one open, else the one
// selected.
func (m *Model) current() apply.Item {
	if m.detail != nil {
		return m.detail.Item()
	}
	it, _ := m.list.Selected()
	return it
}

func (m *Model) ask(it apply.Item, status, final, label string, required bool) {
	m.asking = asking{item: it, status: status, final: final}
	m.prompt = &Prompt{Label: label, Required: required}
}

func (m *Model) say(bad bool, format string, args ...any) {
	m.bad = bad
	m.notice = fmt.Sprintf(format, args...)
}

func (m *Model) setPending(msg pendingMsg) tea.Cmd {
	var fresh int
	present := map[string]bool{}
	for _, it := range msg.items {
		id := it.Proposal.ID
		present[id] = true
		if !m.seen[id] {
			m.seen[id] = true
			fresh++
		}
	}
	first := !m.loaded
	m.loaded = true
	m.errs = msg.errs
	m.list.SetItems(msg.items)
	if m.detail != nil && !present[m.detail.Item().Proposal.ID] {
		m.detail = nil
		m.say(false, "that proposal was answered elsewhere")
	}
	if m.prompt != nil && !present[m.asking.item.Proposal.ID] {
		m.prompt = nil
	}
	if m.menu != nil && !present[m.menuItem.Proposal.ID] {
		m.menu = nil
	}
	if first || fresh == 0 {
		return nil
	}
	m.say(false, "%d new proposal%s", fresh, plural(fresh))
	if m.opt.Bell == nil {
		return nil
	}
	bell := m.opt.Bell
	return func() tea.Msg { bell(); return nil }
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (m *Model) preview(it apply.Item) tea.Cmd {
	svc := m.opt.Service
	return func() tea.Msg {
		b, a, err := svc.Preview(it, it.Proposal.ProposedFile)
		return previewMsg{it.Proposal.ID, b, a, err}
	}
}

func (m *Model) decide(it apply.Item, d apply.Decision) tea.Cmd {
	svc := m.opt.Service
	return func() tea.Msg { return decidedMsg{it, d, svc.Decide(it, d)} }
}

func (m *Model) decided(msg decidedMsg) tea.Cmd {
	p := msg.item.Proposal
	if msg.err != nil {
		m.say(true, "could not answer %s: %v", short(p.ID), msg.err)
		return nil
	}
	delete(m.edits, p.ID)
	if m.detail != nil && m.detail.Item().Proposal.ID == p.ID {
		m.detail = nil
	}
	m.say(false, "%s %s from %s (%s)", msg.d.Status, p.Tool, msg.item.Slug, short(p.ID))
	return m.load()
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// startEdit writes the file to edit (the last edit, else the proposal) and
// then runs the editor on it.
func (m *Model) startEdit(it apply.Item) tea.Cmd {
	text, ok := m.edits[it.Proposal.ID]
	if !ok {
		text = it.Proposal.ProposedFile
	}
	dir := m.opt.TempDir
	return func() tea.Msg {
		ext := ".yaml"
		if it.Proposal.Tool == queue.ToolCapabilityBlock {
			ext = ".Dockerfile"
		}
		f, err := os.CreateTemp(dir, "bot-bottle-"+short(it.Proposal.ID)+"-*"+ext)
		if err != nil {
			return editReadyMsg{item: it, err: err}
		}
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
			return editReadyMsg{item: it, err: err}
		}
		return editReadyMsg{item: it, path: f.Name()}
	}
}

func readEdit(msg editorDoneMsg) tea.Cmd {
	return func() tea.Msg {
		defer os.Remove(msg.path)
		if msg.err != nil {
			return editedMsg{item: msg.item, err: fmt.Errorf("editor: %w", msg.err)}
		}
		b, err := os.ReadFile(msg.path)
		return editedMsg{item: msg.item, text: string(b), err: err}
	}
}

// edited checks the operator's edit; a valid one asks for a note and
// becomes a "modified" answer, an invalid one is kept for the next edit.
func (m *Model) edited(msg editedMsg) tea.Cmd {
	p := msg.item.Proposal
	if msg.err != nil {
		m.say(true, "edit abandoned: %v", msg.err)
		return nil
	}
	if strings.TrimSpace(msg.text) == strings.TrimSpace(p.ProposedFile) {
		delete(m.edits, p.ID)
		m.say(false, "no change made: press a to approve as proposed")
		return nil
	}
	m.edits[p.ID] = msg.text
	if err := apply.ValidateFile(p.Tool, msg.text); err != nil {
		m.say(true, "edit not accepted (press m to fix it): %s", firstLineOf(err.Error()))
		return nil
	}
	m.ask(msg.item, queue.StatusModified, msg.text, "Note for the modified proposal (optional)", false)
	if m.detail != nil && m.detail.Item().Proposal.ID == p.ID {
		svc := m.opt.Service
		it := msg.item
		return func() tea.Msg {
			b, a, err := svc.Preview(it, msg.text)
			return previewMsg{p.ID, b, a, err}
		}
	}
	return nil
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// View draws the screen.
func (m *Model) View() string {
	w, h := max(m.width, 20), max(m.height, 6)
	now := m.opt.Now()
	title := fmt.Sprintf("bot-bottle supervise · %d pending", len(m.list.items))
	if !m.loaded {
		title = "bot-bottle supervise · reading queues…"
	}
	if n := len(m.errs); n > 0 {
		title += fmt.Sprintf(" · %d unreadable: %s", n, firstLineOf(errors.Join(m.errs...).Error()))
	}
	lines := []string{m.st.title.Render(fit(clean(title), w, false))}
	bodyH := h - 3
	var menu []string
	if m.menu != nil {
		menu = m.menu.View(m.st, w)
		bodyH = max(h-1-len(menu), 1)
	}
	var body []string
	help := listHelp
	if m.detail != nil {
		body = m.detail.View(m.st, now, w, bodyH)
		help = m.detail.Help()
	} else {
		body = m.list.View(m.st, now, w, bodyH)
	}
	for len(body) < bodyH {
		body = append(body, "")
	}
	if m.inspecting {
		body = m.inspector.View(m.st, w, bodyH)
		help = inspectorHelp
		if m.eventErr != nil {
			body[0] += m.st.errText.Render(" · " + clean(firstLineOf(m.eventErr.Error())))
		}
		for len(body) < bodyH {
			body = append(body, "")
		}
	}
	lines = append(lines, body[:bodyH]...)
	switch {
	case m.menu != nil:
		lines = append(lines, menu...)
	case m.prompt != nil:
		lines = append(lines, m.prompt.View(m.st, w)...)
	default:
		st := m.st.notice
		if m.bad {
			st = m.st.errText
		}
		lines = append(lines, st.Render(fit(clean(m.notice), w, false)), m.st.help.Render(fit(help, w, false)))
	}
	return joinLines(lines)
}
