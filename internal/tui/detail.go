package tui

import (
	"fmt"
	"net"
	"net/url"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/bot-bottle/bot-bottle/internal/supervise/agentcheck"
	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// Detail is one proposal: why the agent asks, and what approving it would
// change, as a diff against the current config.
type Detail struct {
	item    apply.Item
	loaded  bool
	diff    []diffLine
	plain   bool // holds show the proposed file, not a diff
	problem string
	scroll  int
}

// NewDetail opens it; the preview arrives with SetPreview.
func NewDetail(it apply.Item) *Detail { return &Detail{item: it} }

// Item is the proposal shown.
func (d *Detail) Item() apply.Item { return d.item }

// SetPreview fills in the file as it is and as it would be after approval.
func (d *Detail) SetPreview(before, after string, err error) {
	d.loaded = true
	d.problem = ""
	if err != nil {
		d.problem = err.Error()
		d.plain = true
		d.diff = toLines(same, cleanLines(d.item.Proposal.ProposedFile))
		return
	}
	if !apply.Editable(d.item.Proposal.Tool) {
		d.plain = true
		d.diff = toLines(same, cleanLines(after))
		return
	}
	d.diff = lineDiff(cleanLines(before), cleanLines(after))
}

func toLines(op diffOp, ls []string) []diffLine {
	out := make([]diffLine, len(ls))
	for i, l := range ls {
		out[i] = diffLine{op, l}
	}
	return out
}

// HandleMsg scrolls or names the action a key asks for.
func (d *Detail) HandleMsg(msg tea.Msg) Action {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return Action{}
	}
	switch k.String() {
	case "up", "k":
		d.scroll = max(d.scroll-1, 0)
	case "down", "j":
		d.scroll++
	case "pgup", "b":
		d.scroll = max(d.scroll-10, 0)
	case "pgdown", " ", "f":
		d.scroll += 10
	case "home", "g":
		d.scroll = 0
	case "esc", "backspace", "left", "h":
		return Action{Kind: Back}
	}
	return decisionKey(k.String())
}

// Help is the key help for this proposal.
func (d *Detail) Help() string {
	if !apply.Editable(d.item.Proposal.Tool) {
		return "↑/↓ scroll · a approve (reason required) · r reject · esc back · q quit"
	}
	return "↑/↓ scroll · a approve · m modify in $EDITOR · r reject · esc back · q quit"
}

// View draws at most h lines of w cells.
func (d *Detail) View(st styles, now time.Time, w, h int) []string {
	p := d.item.Proposal
	head := []string{
		st.title.Render(fit(fmt.Sprintf("%s · %s · %s ago", clean(p.Tool), bottleName(d.item), age(now, p.ArrivalTimestamp)), w, false)),
		st.faint.Render(fit("id "+p.ID, w, false)),
	}
	var body []string
	if d.item.Stale {
		for _, l := range wrap("The config changed after this was proposed: the diff is against the current one.", w) {
			body = append(body, st.notice.Render(l))
		}
	}
	body = append(body, hostWarnings(st, p, w)...)
	body = append(body, buildReach(st, d.item, w)...)
	body = append(body, st.header.Render("Justification"))
	for i, para := range cleanLines(p.Justification) {
		if i == 0 && queue.Unproven(p) {
			// The sidecar's first line says the proxy never saw it: red.
			for _, l := range wrap(para, w) {
				body = append(body, st.errText.Render(l))
			}
			continue
		}
		body = append(body, wrap(para, w)...)
	}
	body = append(body, "")
	switch {
	case !d.loaded:
		body = append(body, st.faint.Render("loading…"))
	case d.problem != "":
		for _, l := range wrap(clean("Cannot preview: "+d.problem), w) {
			body = append(body, st.errText.Render(l))
		}
		body = append(body, st.header.Render("Proposed file"))
	case d.plain:
		body = append(body, st.header.Render(holdHeading(p.Tool)))
	default:
		body = append(body, st.header.Render(fit(diffHeading(p.Tool), w, false)))
	}
	for _, l := range d.diff {
		switch {
		case d.plain:
			body = append(body, fit("  "+l.text, w, false))
		case l.op == add:
			body = append(body, st.add.Render(fit("+ "+l.text, w, false)))
		case l.op == del:
			body = append(body, st.del.Render(fit("- "+l.text, w, false)))
		default:
			body = append(body, fit("  "+l.text, w, false))
		}
	}
	room := max(h-len(head), 1)
	d.scroll = min(d.scroll, max(len(body)-room, 0))
	body = body[d.scroll:]
	if len(body) > room {
		body = body[:room]
	}
	return append(head, body...)
}

// hostWarnings are red lines for proposed host names that look like they
// carry data (encoded labels, deep chains), computed here from the file,
// not taken from the agent's words.
func hostWarnings(st styles, p queue.Proposal, w int) []string {
	if p.Tool != queue.ToolEgressAllow && p.Tool != queue.ToolEgressBlock {
		return nil
	}
	var warns []string
	for _, warn := range agentcheck.HostWarnings(p.ProposedFile) {
		warns = append(warns, warn+". Approving it lets the agent send that data in DNS queries")
	}
	if refused, ok := refusedHost(p); ok {
		routes, _ := agentcheck.ParseRoutes(p.ProposedFile)
		for _, r := range routes {
			if r.Host != refused {
				warns = append(warns, fmt.Sprintf("the route for %s is not for %s, the host the proxy refused; the proxy's record does not back it", r.Host, refused))
			}
		}
	}
	var out []string
	for _, warn := range warns {
		for _, l := range wrap(clean("WARNING: "+warn+"."), w) {
			out = append(out, st.errText.Render(l))
		}
	}
	return out
}

// buildReach says, for a capability-block proposal, what the lines may
// reach when they are built at the next start.
func buildReach(st styles, it apply.Item, w int) []string {
	if it.Proposal.Tool != queue.ToolCapabilityBlock {
		return nil
	}
	out := []string{st.header.Render("The build may reach (as root, at the next start; DLP on, DNS refused)")}
	for _, l := range wrap(clean(apply.DescribeBuildReach(it.BuildReach)), w) {
		out = append(out, l)
	}
	return append(out, "")
}

// refusedHost is the host of the request a proven egress-block cites, as
// the proxy recorded it.
func refusedHost(p queue.Proposal) (string, bool) {
	m, u, ok := queue.ProvenRequest(p)
	if !ok {
		return "", false
	}
	if m == "CONNECT" { // host:port, no scheme
		h, _, err := net.SplitHostPort(u)
		return h, err == nil
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Hostname() == "" {
		return "", false
	}
	return pu.Hostname(), true
}

func diffHeading(tool string) string {
	if tool == queue.ToolCapabilityBlock {
		return "Image changes kept for the next start (+ added on approval)"
	}
	return "Live egress policy (+ added on approval)"
}

func holdHeading(tool string) string {
	if tool == queue.ToolGitleaksAllow {
		return "Held push: findings"
	}
	return "Held request: what matched"
}
