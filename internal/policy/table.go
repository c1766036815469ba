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
}

// AuthView is the injected token's scheme and env var name.
type AuthView struct {
	Scheme   string `json:"scheme"`
	TokenRef string `json:"token_ref"`
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
			Ports:              append([]int{PortHTTPS, PortHTTP}, p.ExtraPorts...),
			OutboundDetectors:  append([]string{}, r.Outbound...),
			InboundDetectors:   []string{},
			OutboundOnMatch:    r.OnMatch,
			GitFetch:           r.GitFetch,
			UnsafeAllowPrivate: r.UnsafeAllowPrivate,
		}
		if r.Inbound {
			v.InboundDetectors = []string{DetectorNaiveInjection}
		}
		if r.Auth != nil {
			v.Auth = &AuthView{Scheme: r.Auth.Scheme, TokenRef: r.Auth.TokenRef}
		}
		for _, m := range r.wire.Matches {
			v.Matches = append(v.Matches, MatchView{Paths: m.Paths, Methods: m.Methods, Headers: m.Headers})
		}
		out = append(out, v)
	}
	return out
}
