package policy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// CodeGrantSpent: the only route that would allow the request is a grant
// that has expired or used up its uses.
const CodeGrantSpent Code = "grant-spent"

// grant is a route's compiled limit. The hot path is one time compare and
// one atomic add.
type grant struct {
	id      string
	expires time.Time // zero: none
	uses    int64     // 0: no limit
	used    *atomic.Int64
}

// grantUses keeps each grant's use counter across policy reloads in this
// process: a reload must not hand a spent grant its uses back.
var grantUses sync.Map // grant id -> *atomic.Int64

func compileGrant(g manifest.Grant) (*grant, error) {
	c := &grant{id: g.ID, uses: int64(g.Uses)}
	if g.Expires != "" {
		t, err := time.Parse(time.RFC3339, g.Expires)
		if err != nil {
			return nil, fmt.Errorf("grant.expires: %w", err)
		}
		c.expires = t
	}
	n := new(atomic.Int64)
	n.Store(int64(g.Used))
	v, _ := grantUses.LoadOrStore(g.ID, n)
	c.used = v.(*atomic.Int64)
	return c, nil
}

// take spends one use at now, or says why the grant no longer allows.
func (g *grant) take(now time.Time) (string, bool) {
	if !g.expires.IsZero() && !now.Before(g.expires) {
		return fmt.Sprintf("grant %s expired at %s", g.id, g.expires.UTC().Format(time.RFC3339)), false
	}
	if g.uses > 0 {
		if n := g.used.Add(1); n > g.uses {
			g.used.Add(-1)
			return fmt.Sprintf("grant %s has used all its %d uses", g.id, g.uses), false
		}
	}
	return "", true
}

// GrantID names the route's grant, "" when it has none.
func (r *Route) GrantID() string {
	if r == nil || r.grant == nil {
		return ""
	}
	return r.grant.id
}

// GrantView is a grant as the allowlist shows it.
type GrantView struct {
	ID      string `json:"id"`
	Expires string `json:"expires,omitempty"`
	Uses    int64  `json:"uses,omitempty"`
	Used    int64  `json:"used,omitempty"`
	Session bool   `json:"session,omitempty"`
}

func (r *Route) grantView() *GrantView {
	if r.grant == nil {
		return nil
	}
	g := r.wire.Grant
	return &GrantView{ID: g.ID, Expires: g.Expires, Uses: r.grant.uses, Used: r.grant.used.Load(), Session: g.Session}
}

// Spent reports whether g no longer allows anything at now: expired, or
// every use recorded as spent. Used by the host to drop such routes.
func Spent(g *manifest.Grant, now time.Time) bool {
	if g == nil {
		return false
	}
	if g.Uses > 0 && g.Used >= g.Uses {
		return true
	}
	if g.Expires == "" {
		return false
	}
	t, err := time.Parse(time.RFC3339, g.Expires)
	return err != nil || !now.Before(t)
}

// CarriedGrants are the approved routes a new run starts with: a session
// grant lasted for its own run, and a spent grant allows nothing.
func CarriedGrants(routes []manifest.Route, now time.Time) []manifest.Route {
	var out []manifest.Route
	for _, r := range routes {
		if r.Grant != nil && (r.Grant.Session || Spent(r.Grant, now)) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// grantMark ends the reason of a request a grant allowed.
const grantMark = " under grant "

// CountGrantUses counts, in an egress log (JSON Lines), the requests each
// grant allowed: a new run starts a grant's count there (resume honours
// what is left). The grant id is the reason's last words, after the
// request's own path, so a path cannot name another grant.
func CountGrantUses(r io.Reader) (map[string]int, error) {
	n := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(grantMark)) {
			continue
		}
		var e struct {
			Decision string `json:"decision"`
			Reason   string `json:"reason"`
		}
		if json.Unmarshal(line, &e) != nil || e.Decision != "allow" {
			continue
		}
		if i := strings.LastIndex(e.Reason, grantMark); i >= 0 {
			n[e.Reason[i+len(grantMark):]]++
		}
	}
	return n, sc.Err()
}

// SpendLogged raises each grant's Used to what the log counted.
func SpendLogged(routes []manifest.Route, used map[string]int) []manifest.Route {
	out := make([]manifest.Route, len(routes))
	for i, r := range routes {
		if r.Grant != nil && used[r.Grant.ID] > r.Grant.Used {
			g := *r.Grant
			g.Used = used[g.ID]
			r.Grant = &g
		}
		out[i] = r
	}
	return out
}
