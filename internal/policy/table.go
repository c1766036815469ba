package policy

import "github.com/bot-bottle/bot-bottle/internal/manifest"

// RouteView is a route as shown by the allowlist endpoint: what the route
// allows, the name of its token's env var, never a token value.
type RouteView struct {
	Host               string      `json:"host"`
	Ports              []int       `json:"ports"`
	Auth               *AuthView   `json:"auth,omitempty"`
	Matches            []MatchView `json:"matches,omitempty"`
	OutboundDetectors  []string    `json:"outbound_detectors"`
	InboundDetectors   []string    `json:"inbound_detectors"`
	OutboundOnMatch    string      `json:"outbound_on_match"`
	GitFetch           bool        `json:"git_fetch,omitempty"`
	UnsafeAllowPrivate bool        `json:"unsafe_allow_private,omitempty"`
	Grant              *GrantView  `json:"grant,omitempty"`
}

// AuthView is where the injected token goes and its env var name.
type AuthView struct {
	Placement   string `json:"placement"`
	Scheme      string `json:"scheme,omitempty"`
	Header      string `json:"header,omitempty"`
	BasicUser   string `json:"basic_user,omitempty"`
	Query       string `json:"query,omitempty"`
	Placeholder string `json:"placeholder,omitempty"`
	InBody      bool   `json:"placeholder_in_body,omitempty"`
	TokenRef    string `json:"token_ref"`
}

// MatchView mirrors manifest.Match.
type MatchView struct {
	Paths   []manifest.PathMatch   `json:"paths,omitempty"`
	Methods []string               `json:"methods,omitempty"`
	Headers []manifest.HeaderMatch `json:"headers,omitempty"`
}

// Table lists the routes for people and agents to read.
func (p *Policy) Table() []RouteView {
	out := make([]RouteView, 0, len(p.Routes))
	for _, r := range p.Routes {
		v := RouteView{
			Host:               r.Host,
			Ports:              p.portsOf(r),
			OutboundDetectors:  append([]string{}, r.Outbound...),
			InboundDetectors:   []string{},
			OutboundOnMatch:    r.OnMatch,
			GitFetch:           r.GitFetch,
			UnsafeAllowPrivate: r.UnsafeAllowPrivate,
			Grant:              r.grantView(),
		}
		if r.Inbound {
			v.InboundDetectors = []string{DetectorNaiveInjection}
		}
		if r.Auth != nil {
			a := r.Auth
			v.Auth = &AuthView{Placement: a.Placement, Scheme: a.Scheme, Header: a.Header, BasicUser: a.BasicUser, Query: a.Query, Placeholder: a.Placeholder, InBody: a.InBody, TokenRef: a.TokenRef}
		}
		for _, m := range r.wire.Matches {
			v.Matches = append(v.Matches, MatchView{Paths: m.Paths, Methods: m.Methods, Headers: m.Headers})
		}
		out = append(out, v)
	}
	return out
}
