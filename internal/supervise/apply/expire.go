package apply

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/policy"
	"github.com/bot-bottle/bot-bottle/internal/supervise/audit"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// ActionExpired is the audit action for a grant dropped at its expiry.
const ActionExpired = "expired"

// Expire drops the spent grants of slug (expired, or every use spent as
// the proxy's log counts them) from approved.yaml and the live policy and
// audits each. The proxy refuses a spent grant on its own (the grant's
// time and count are checked per request); this keeps the files and the
// record true. It returns the grant ids dropped.
func (o *Operator) Expire(slug string) ([]string, error) {
	paths := o.paths(slug)
	unlock, err := lock(paths.lock())
	if err != nil {
		return nil, err
	}
	defer unlock()
	now := o.now()
	var dropped []string
	seen := map[string]bool{}
	var used map[string]int // read once, when a grant counts uses
	for _, f := range []struct {
		path string
		mode fs.FileMode
	}{{paths.Approved(), modePrivate}, {paths.Policy(), modeShared}} {
		e, raw, err := readPolicy(f.path)
		if err != nil {
			return dropped, err
		}
		if raw == nil {
			continue
		}
		if used == nil && countsUses(e.Routes) {
			if used, err = loggedUses(paths); err != nil {
				return dropped, err
			}
		}
		kept, gone := splitSpent(policy.SpendLogged(e.Routes, used), now)
		if len(gone) == 0 {
			continue
		}
		e.Routes = kept
		b, err := manifest.MarshalPolicy(e)
		if err != nil {
			return dropped, err
		}
		if err := writeKeepMode(f.path, b, f.mode); err != nil {
			return dropped, err
		}
		if f.path == paths.Policy() {
			if err := writeCurrentConfig(paths, "egress.yaml", b); err != nil {
				return dropped, err
			}
		}
		for _, r := range gone {
			if seen[r.Grant.ID] {
				continue
			}
			seen[r.Grant.ID] = true
			dropped = append(dropped, r.Grant.ID)
			if err := o.auditExpired(slug, r, raw, b, now); err != nil {
				return dropped, err
			}
		}
	}
	return dropped, nil
}

// countsUses reports a route whose grant allows a number of requests.
func countsUses(routes []manifest.Route) bool {
	for _, r := range routes {
		if r.Grant != nil && r.Grant.Uses > 0 {
			return true
		}
	}
	return false
}

// loggedUses counts each grant's uses in the bottle's egress log, where
// the proxy records every one (a new run starts its counts there too).
func loggedUses(paths Paths) (map[string]int, error) {
	f, err := os.Open(filepath.Join(paths.bottle().Logs(), "egress.jsonl"))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]int{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("counting grant uses: %w", err)
	}
	defer f.Close()
	n, err := policy.CountGrantUses(f)
	if err != nil {
		return nil, fmt.Errorf("counting grant uses in %s: %w", f.Name(), err)
	}
	return n, nil
}

func splitSpent(routes []manifest.Route, now time.Time) (kept, gone []manifest.Route) {
	for _, r := range routes {
		if policy.Spent(r.Grant, now) {
			gone = append(gone, r)
		} else {
			kept = append(kept, r)
		}
	}
	return kept, gone
}

func (o *Operator) auditExpired(slug string, r manifest.Route, before, after []byte, now time.Time) error {
	text, _ := routeKey(r)
	e := audit.Entry{
		Time: now, Bottle: slug, Tool: queue.ToolEgressAllow, Action: ActionExpired,
		Notes:      spentNote(r),
		BeforeHash: queue.HashFile(before), AfterHash: queue.HashFile(after),
		Operator: o.user(), Content: text,
	}
	return audit.Append(audit.Path(o.Home, slug), e)
}

// spentNote says why a grant left the policy: its expiry or its uses.
func spentNote(r manifest.Route) string {
	g := r.Grant
	if g.Uses > 0 && g.Used >= g.Uses {
		return fmt.Sprintf("grant %s on %s has used all its %d uses", g.ID, r.Host, g.Uses)
	}
	return fmt.Sprintf("grant %s on %s expired at %s", g.ID, r.Host, g.Expires)
}

// ExpireAll runs Expire for every bottle.
func (o *Operator) ExpireAll() []error {
	slugs, err := o.Slugs()
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, s := range slugs {
		if _, err := o.Expire(s); err != nil {
			errs = append(errs, fmt.Errorf("%s: dropping spent grants: %w", s, err))
		}
	}
	return errs
}
