// Package apply is the operator's side of the supervise queue: it finds the
// pending proposals of every bottle on the host, shows what an answer would
// change, and carries out a decision: applies it (routes merged into the
// live egress policy, image changes kept for the next start), appends the
// audit line, then writes the response (DESIGN.md, Supervision).
package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"sort"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/atomicfile"
	"github.com/bot-bottle/bot-bottle/internal/oplock"
	"github.com/bot-bottle/bot-bottle/internal/supervise/agentcheck"
	"github.com/bot-bottle/bot-bottle/internal/supervise/audit"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// ErrNotFound reports a proposal id that no bottle's queue holds.
var ErrNotFound = errors.New("no pending proposal with that id")

// ErrRefused classifies a decision that cannot be carried out as asked (a
// missing reason, an invalid edit, a route only the operator may add): the
// operator can fix it and try again.
var ErrRefused = errors.New("decision refused")

// Operator decides proposals for the bottles under Home.
type Operator struct {
	// Home is the user's home directory (holding .bot-bottle).
	Home string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// User names the operator in the audit log; "" means the host user
	// running this process.
	User string
}

// user is the operator's name for the audit log.
func (o *Operator) user() string {
	if o.User != "" {
		return o.User
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return n
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

// Item is one pending proposal and the bottle it came from.
type Item struct {
	Proposal queue.Proposal
	// Slug names the bottle whose queue holds the proposal.
	Slug string
	// Label is the bottle's label from metadata.json, "" when none.
	Label string
	// Color is the bottle's colour name from metadata.json (start --color),
	// "" when none.
	Color string
	// Summary is one line saying what the proposal asks for.
	Summary string
	// Stale is true when the file the proposal was made against has
	// changed since (its current_file_hash no longer matches): the agent
	// saw an older config than the one an approval merges into.
	Stale bool
	// BuildReach, for a capability-block proposal, are the hosts a build
	// of the approved lines may reach through its proxy: the build policy
	// the bottle's last start wrote (its egress routes and
	// capabilities.routes). Nil when no start has written one.
	BuildReach []string
}

// Decision is the operator's answer to one proposal.
type Decision struct {
	// Status is queue.StatusApproved, StatusModified or StatusRejected.
	Status string
	// Notes is the operator's reason; required to approve gitleaks-allow
	// and egress-token-allow.
	Notes string
	// FinalFile replaces the proposed file when Status is modified.
	FinalFile string
	// Limits scope an approved route (Scope); empty keeps it for good.
	Limits Limits
}

func (o *Operator) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Operator) paths(slug string) Paths { return Paths{Home: o.Home, Slug: slug} }

// Slugs lists the bottles that have a state directory.
func (o *Operator) Slugs() ([]string, error) {
	entries, err := os.ReadDir(StateRoot(o.Home))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing bottles: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Pending lists every bottle's unanswered proposals, oldest first. Files
// that cannot be read are reported in the error list and skipped.
func (o *Operator) Pending() ([]Item, []error) {
	slugs, err := o.Slugs()
	if err != nil {
		return nil, []error{err}
	}
	var items []Item
	var errs []error
	for _, slug := range slugs {
		ps, perrs := queue.New(o.paths(slug).Queue()).Pending()
		errs = append(errs, perrs...)
		if len(ps) == 0 {
			continue
		}
		label, color := o.label(slug)
		paths := o.paths(slug)
		for _, p := range ps {
			it := Item{Proposal: p, Slug: slug, Label: label, Color: color, Summary: Summarize(p), Stale: stale(paths, p)}
			if p.Tool == queue.ToolCapabilityBlock {
				it.BuildReach = buildReach(paths)
			}
			items = append(items, it)
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i].Proposal, items[j].Proposal
		if !a.ArrivalTimestamp.Equal(b.ArrivalTimestamp) {
			return a.ArrivalTimestamp.Before(b.ArrivalTimestamp)
		}
		return a.ID < b.ID
	})
	return items, errs
}

// Find returns the pending proposal id, wherever it is queued.
func (o *Operator) Find(id string) (Item, error) {
	if !queue.ValidID(id) {
		return Item{}, fmt.Errorf("invalid proposal id %q", id)
	}
	items, errs := o.Pending()
	for _, it := range items {
		if it.Proposal.ID == id {
			return it, nil
		}
	}
	if len(errs) > 0 {
		return Item{}, fmt.Errorf("finding %s: %w (and %w)", id, ErrNotFound, errors.Join(errs...))
	}
	return Item{}, fmt.Errorf("finding %s: %w", id, ErrNotFound)
}

// label reads metadata.json's label and colour; the file may not exist
// yet.
func (o *Operator) label(slug string) (label, color string) {
	b, err := os.ReadFile(o.paths(slug).Metadata())
	if err != nil {
		return "", ""
	}
	var m struct {
		Label string `json:"label"`
		Color string `json:"color"`
	}
	if json.Unmarshal(b, &m) != nil {
		return "", ""
	}
	return m.Label, m.Color
}

// Editable reports whether a proposal of this tool may be modified. The
// holds raised by the sidecar itself are approve-or-reject only.
func Editable(tool string) bool {
	switch tool {
	case queue.ToolGitleaksAllow, queue.ToolEgressTokenAllow:
		return false
	}
	return true
}

// NeedsReason reports whether approving a proposal of this tool needs a
// non-empty reason.
func NeedsReason(tool string) bool { return !Editable(tool) }

// Check validates a decision without carrying it out: the checks Decide
// makes before it touches anything.
func Check(tool string, d Decision) error {
	if !d.Limits.Empty() && (d.Status == queue.StatusRejected || (tool != queue.ToolEgressAllow && tool != queue.ToolEgressBlock)) {
		return fmt.Errorf("%w: --ttl, --uses, --session, --method and --path-prefix scope an approved egress route; %s %s takes none", ErrRefused, d.Status, tool)
	}
	switch d.Status {
	case queue.StatusApproved:
		if NeedsReason(tool) && strings.TrimSpace(d.Notes) == "" {
			return fmt.Errorf("%w: approving %s needs a reason", ErrRefused, tool)
		}
	case queue.StatusModified:
		if !Editable(tool) {
			return fmt.Errorf("%w: %s cannot be modified, only approved or rejected", ErrRefused, tool)
		}
		if err := ValidateFile(tool, d.FinalFile); err != nil {
			return fmt.Errorf("%w: %w", ErrRefused, err)
		}
	case queue.StatusRejected:
	default:
		return fmt.Errorf("unknown decision %q", d.Status)
	}
	return nil
}

// ValidateFile checks a proposed or edited file of tool.
func ValidateFile(tool, text string) error {
	switch tool {
	case queue.ToolEgressAllow, queue.ToolEgressBlock:
		_, err := ParseRoutes(text)
		return err
	case queue.ToolCapabilityBlock:
		_, err := agentcheck.Dockerfile(text)
		return err
	}
	return nil
}

// Decide carries out d on it: apply, audit, then respond. The response is
// written last, so a raiser that sees "approved" finds the change in place;
// an approved route takes effect even if nobody waits for the answer.
func (o *Operator) Decide(it Item, d Decision) error {
	p := it.Proposal
	if err := Check(p.Tool, d); err != nil {
		return err
	}
	paths := o.paths(it.Slug)
	unlock, err := lock(paths.lock())
	if err != nil {
		return err
	}
	defer unlock()
	q := queue.New(paths.Queue())
	if _, err := q.Response(p.ID); err == nil {
		return fmt.Errorf("%w: proposal %s is already answered", ErrRefused, p.ID)
	} else if !errors.Is(err, queue.ErrNotFound) {
		return err
	}
	// Re-read the proposal: the item may be stale, the file is the truth.
	stored, err := q.Proposal(p.ID)
	if err != nil {
		return fmt.Errorf("deciding %s: %w", p.ID, err)
	}
	p = stored
	file := p.ProposedFile
	if d.Status == queue.StatusModified {
		file = d.FinalFile
	}
	var ch change
	if d.Status != queue.StatusRejected {
		if file, err = Scope(p.Tool, file, p.ID, d.Limits, o.now()); err != nil {
			return err
		}
		ch, err = o.apply(paths, p, file, d.Status == queue.StatusModified)
		if err != nil {
			return fmt.Errorf("applying %s: %w", p.ID, err)
		}
	} else {
		ch.before, ch.after, err = unchanged(paths, p.Tool)
		if err != nil {
			return err
		}
	}
	e := audit.Entry{
		Time:       o.now(),
		Bottle:     it.Slug,
		ProposalID: p.ID,
		Tool:       p.Tool,
		Action:     d.Status,
		Notes:      d.Notes,
		BeforeHash: ch.before,
		AfterHash:  ch.after,
		Operator:   o.user(),
		Content:    file,
		RefusalID:  queue.RefusalID(p),
	}
	if d.Status != queue.StatusRejected {
		e.Limits = d.Limits.String()
	}
	if err := audit.Append(audit.Path(o.Home, it.Slug), e); err != nil {
		return fmt.Errorf("recording %s: %w", p.ID, err)
	}
	r := queue.Response{Status: d.Status, Notes: d.Notes}
	if d.Status == queue.StatusModified {
		r.FinalFile = d.FinalFile
	}
	if err := q.Respond(p.ID, r); err != nil {
		return err
	}
	return nil
}

// lock takes the bottle's operator lock, so two operators (the UI and a
// script) and a new run's policy rewrite cannot interleave.
func lock(path string) (func(), error) { return oplock.Lock(path) }

// writeFileMode writes a host state file atomically.
func writeFileMode(path string, b []byte, mode fs.FileMode) error {
	if err := atomicfile.Write(path, b, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
