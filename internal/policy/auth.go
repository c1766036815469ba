package policy

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// compileAuth checks a route's auth as the manifest validator does (a
// policy file may come from elsewhere) and fixes its placement.
func compileAuth(w manifest.Auth) (*Auth, error) {
	var fe manifest.FieldErrors
	if err := manifest.ValidateRoute(manifest.Route{Host: "auth.check", Auth: &w}); err != nil && errors.As(err, &fe) {
		return nil, fmt.Errorf("%s: %s", fe[0].Path, fe[0].Message)
	} else if err != nil {
		return nil, err
	}
	a := &Auth{
		Placement:   w.Placement(),
		TokenRef:    w.TokenRef,
		Placeholder: w.Placeholder,
		InBody:      w.PlaceholderInBody,
	}
	switch a.Placement {
	case manifest.PlaceScheme:
		a.Scheme = w.EffectiveScheme()
	case manifest.PlaceHeader:
		a.Header = http.CanonicalHeaderKey(w.Header)
	case manifest.PlaceBasic:
		a.BasicUser = w.BasicUser
	case manifest.PlaceQuery:
		a.Query = w.Query
	}
	return a, nil
}

// parseRouteHostOrWildcard returns the route's host as shown and, for a
// *.suffix host, the suffix with its leading dot.
func parseRouteHostOrWildcard(s string) (host, suffix string, err error) {
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		h := NormalizeHost(rest)
		if strings.Contains(h, "*") || !validName(h) || !strings.Contains(h, ".") || h != rest {
			return "", "", fmt.Errorf("host %q: a wildcard is *. then a lower-case domain of two labels or more", s)
		}
		return "*." + h, "." + h, nil
	}
	h, err := ParseRouteHost(s)
	return h, "", err
}

// MatchesHost reports whether the route is for host (normalized): the
// same name, or for a *.suffix route a name of one or more labels under
// suffix (never the suffix itself, never an IP literal).
func (r *Route) MatchesHost(host string) bool {
	if r.suffix == "" {
		return r.Host == host
	}
	return len(host) > len(r.suffix) && strings.HasSuffix(host, r.suffix) && !strings.HasPrefix(host, ".") && validName(host)
}

// allowsPort reports whether the route takes scheme on port: its ports
// when it lists some (either scheme), else 443 for https and 80 for http;
// and the operator's extra ports.
func (p *Policy) allowsPort(r *Route, scheme string, port int) bool {
	if slices.Contains(p.ExtraPorts, port) {
		return true
	}
	if len(r.Ports) > 0 {
		return slices.Contains(r.Ports, port)
	}
	return scheme == "https" && port == PortHTTPS || scheme == "http" && port == PortHTTP
}

// portsOf lists what the route allows, for messages and the table.
func (p *Policy) portsOf(r *Route) []int {
	ports := r.Ports
	if len(ports) == 0 {
		ports = []int{PortHTTPS, PortHTTP}
	}
	out := slices.Clone(ports)
	for _, x := range p.ExtraPorts {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
