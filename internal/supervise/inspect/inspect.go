// Package inspect follows every bottle's egress decisions for the
// operator's live view, drafts the narrowest route that would allow a
// refused request, and files the operator's route as a proposal that goes
// through the same validation, diff and audit as an agent's.
package inspect

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/logview"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// Event is one egress decision as the proxy logged it.
type Event struct {
	Time      time.Time
	Bottle    string
	Method    string
	Scheme    string
	Host      string
	Port      int
	Path      string
	Status    int
	Decision  string // allow or refuse
	Code      string
	Reason    string
	RefusalID string
}

// Refused reports a refusal.
func (e Event) Refused() bool { return e.Decision != "allow" }

// Watcher tails the egress log of every bottle under Home.
type Watcher struct {
	op    *apply.Operator
	home  string
	tails map[string]*logview.Tail
}

// NewWatcher follows the bottles of home; bottles started later are
// picked up on the next Poll.
func NewWatcher(home string) *Watcher {
	return &Watcher{op: &apply.Operator{Home: home}, home: home, tails: map[string]*logview.Tail{}}
}

// Poll returns the decisions logged since the last Poll, oldest first.
func (w *Watcher) Poll() ([]Event, error) {
	slugs, err := w.op.Slugs()
	if err != nil {
		return nil, err
	}
	var out []Event
	var errs []string
	for _, s := range slugs {
		t := w.tails[s]
		if t == nil {
			logs := hoststate.New(w.home).Bottle(s).Logs()
			srcs, _ := logview.Sources(logs, "", []string{logview.Egress})
			t = logview.NewTail(srcs)
			w.tails[s] = t
		}
		lines, err := t.Poll()
		if err != nil {
			errs = append(errs, s+": "+err.Error())
		}
		for _, l := range lines {
			if e, ok := event(s, l); ok {
				out = append(out, e)
			}
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("reading egress logs: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

// event reads one egress log line; lines that are not decisions (reloads,
// start-up) are skipped.
func event(slug string, l logview.Line) (Event, bool) {
	f := l.Fields
	if f == nil || f["decision"] == nil {
		return Event{}, false
	}
	str := func(k string) string { s, _ := f[k].(string); return s }
	num := func(k string) int {
		n, _ := f[k].(json.Number)
		i, _ := n.Int64()
		return int(i)
	}
	return Event{
		Time: l.Time, Bottle: slug, Method: str("method"), Scheme: str("scheme"), Host: str("host"),
		Port: num("port"), Path: str("path"), Status: num("status"), Decision: str("decision"),
		Code: str("code"), Reason: str("reason"), RefusalID: str("refusal_id"),
	}, true
}

// Draft is the narrowest route that would allow e: its host, its method
// and its path's directory as a prefix, on its port when not the default.
func Draft(e Event) string {
	r := manifest.Route{Host: e.Host}
	if (e.Scheme == "https" && e.Port != 443 && e.Port != 0) || (e.Scheme == "http" && e.Port != 80 && e.Port != 0) {
		r.Ports = []int{e.Port}
	}
	if e.Method != "" && e.Method != "CONNECT" {
		m := manifest.Match{Methods: []string{e.Method}}
		if dir := DirOf(e.Path); dir != "/" {
			m.Paths = []manifest.PathMatch{{Type: "prefix", Value: dir}}
		}
		r.Matches = []manifest.Match{m}
	}
	b, err := yaml.Marshal(map[string][]manifest.Route{"routes": {r}})
	if err != nil {
		return "routes:\n  - host: " + e.Host + "\n"
	}
	return fmt.Sprintf("# The narrowest route that allows %s %s://%s%s\n# (refusal %s). Save to file it as your proposal; approve it in the list.\n",
		e.Method, e.Scheme, e.Host, e.Path, e.RefusalID) + string(b)
}

// DirOf is the directory holding p with a trailing slash ("/v1/" for
// "/v1/items"); "/" when there is none. The drafted route and the TUI's
// narrowest approval both use it.
func DirOf(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "(redacted") {
		return "/"
	}
	if strings.HasSuffix(p, "/") {
		return p
	}
	if d := path.Dir(p); d != "/" {
		return d + "/"
	}
	return "/"
}

// File validates the operator's route text and files it in slug's queue
// as an egress-allow proposal; approving it applies it live and audits it
// like any other.
func File(home, slug, text, refusalID string) (queue.Proposal, error) {
	if err := apply.ValidateFile(queue.ToolEgressAllow, text); err != nil {
		return queue.Proposal{}, err
	}
	b := hoststate.New(home).Bottle(slug)
	cur, _ := os.ReadFile(b.Policy()) // none yet: the empty hash
	why := queue.OperatorMark
	if refusalID != "" {
		why += " (from refusal " + refusalID + ")"
	}
	return queue.New(b.Queue()).Submit(queue.Proposal{
		BottleSlug: slug, Tool: queue.ToolEgressAllow, ProposedFile: text,
		Justification: why, CurrentFileHash: queue.HashFile(cur),
	})
}
