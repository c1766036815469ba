package apply

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// Limits scope an approval of routes: how long, how many requests, this
// run only, and which methods and path prefixes.
type Limits struct {
	TTL          time.Duration
	Uses         int
	Session      bool
	Methods      []string
	PathPrefixes []string
}

// Empty reports an approval without limits: the route is kept for good.
func (l Limits) Empty() bool {
	return l.TTL == 0 && l.Uses == 0 && !l.Session && len(l.Methods) == 0 && len(l.PathPrefixes) == 0
}

// String is the limits as the audit log records them.
func (l Limits) String() string {
	var parts []string
	if l.TTL > 0 {
		parts = append(parts, "ttl "+l.TTL.String())
	}
	if l.Uses > 0 {
		parts = append(parts, fmt.Sprintf("%d uses", l.Uses))
	}
	if l.Session {
		parts = append(parts, "this run only")
	}
	if len(l.Methods) > 0 {
		parts = append(parts, "methods "+strings.Join(upper(l.Methods), ","))
	}
	if len(l.PathPrefixes) > 0 {
		parts = append(parts, "path prefixes "+strings.Join(l.PathPrefixes, ","))
	}
	return strings.Join(parts, "; ")
}

func (l Limits) check() error {
	if l.TTL < 0 || l.Uses < 0 {
		return fmt.Errorf("%w: --ttl and --uses must not be negative", ErrRefused)
	}
	for _, p := range l.PathPrefixes {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("%w: path prefix %q does not start with /", ErrRefused, p)
		}
	}
	return nil
}

// GrantID names the grant an approval of proposal id makes.
func GrantID(id string) string { return "g-" + id[:8] }

// Scope rewrites the routes of file under l: each gets a grant (when l
// limits time, uses or the run) and its matches narrowed to l's methods
// and path prefixes. Narrowing never widens: a method the route does not
// allow, or prefixes on a route that already names paths, is refused.
func Scope(tool, file, id string, l Limits, now time.Time) (string, error) {
	if l.Empty() || (tool != queue.ToolEgressAllow && tool != queue.ToolEgressBlock) {
		return file, nil
	}
	if err := l.check(); err != nil {
		return "", err
	}
	routes, err := ParseRoutes(file)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrRefused, err)
	}
	for i := range routes {
		r := &routes[i]
		if err := narrow(r, l); err != nil {
			return "", fmt.Errorf("%w: route %s: %w", ErrRefused, r.Host, err)
		}
		if l.TTL > 0 || l.Uses > 0 || l.Session {
			g := &manifest.Grant{ID: GrantID(id), Uses: l.Uses, Session: l.Session}
			if l.TTL > 0 {
				g.Expires = now.Add(l.TTL).UTC().Format(time.RFC3339)
			}
			r.Grant = g
		}
	}
	b, err := yaml.Marshal(map[string][]manifest.Route{"routes": routes})
	if err != nil {
		return "", fmt.Errorf("encoding the scoped routes: %w", err)
	}
	return string(b), nil
}

func narrow(r *manifest.Route, l Limits) error {
	methods := upper(l.Methods)
	var paths []manifest.PathMatch
	for _, p := range l.PathPrefixes {
		paths = append(paths, manifest.PathMatch{Type: "prefix", Value: p})
	}
	if len(methods) == 0 && len(paths) == 0 {
		return nil
	}
	if len(r.Matches) == 0 {
		r.Matches = []manifest.Match{{Methods: methods, Paths: paths}}
		return nil
	}
	for i := range r.Matches {
		m := &r.Matches[i]
		if len(methods) > 0 {
			if len(m.Methods) == 0 {
				m.Methods = methods
			} else if m.Methods = intersect(upper(m.Methods), methods); len(m.Methods) == 0 {
				return fmt.Errorf("matches[%d] allows none of the methods %s", i, strings.Join(methods, ","))
			}
		}
		if len(paths) > 0 {
			if len(m.Paths) > 0 {
				return fmt.Errorf("matches[%d] names its paths already; modify the route to narrow them", i)
			}
			m.Paths = paths
		}
	}
	return nil
}

func upper(ms []string) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = strings.ToUpper(strings.TrimSpace(m))
	}
	return out
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
