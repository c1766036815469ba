// Package policy turns a bottle's egress routes into a compiled policy and
// decides, without I/O, whether one request may leave. Default deny: every
// outcome is a Decision with a machine-readable Code and a Reason for
// people.
package policy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// Detector names (the manifest's dlp lists).
const (
	DetectorTokenPatterns  = "token_patterns"
	DetectorKnownSecrets   = "known_secrets"
	DetectorEntropy        = "entropy"
	DetectorFinancial      = "financial"
	DetectorNaiveInjection = "naive_injection_detection"
)

// What an outbound DLP match does.
const (
	OnMatchSupervise = "supervise"
	OnMatchRedact    = "redact"
	OnMatchBlock     = "block"
)

// Default ports: a route without a port allows HTTPS on 443 (CONNECT) and
// plain HTTP on 80 (absolute-form requests).
const (
	PortHTTPS = 443
	PortHTTP  = 80
)

// DefaultLog is the log level when the policy names none: every decision.
const DefaultLog = 1

// Policy is a compiled, validated route table.
type Policy struct {
	Routes []*Route
	// ExtraPorts are ports every route allows besides its own (443 for
	// https and 80 for http unless the route lists ports): set by the
	// proxy's operator (--allow-port), for local tests.
	ExtraPorts []int
	// Log is 0 (refusals only), 1 (every decision) or 2 (every decision
	// with request headers, never a token).
	Log int
	// Now is the clock for grant expiry; nil means time.Now.
	Now func() time.Time
}

// Route is one compiled route.
type Route struct {
	// Host is the lower-case host name or IP literal, or *.suffix.
	Host string
	// Ports the route allows; empty means 443 for https and 80 for http.
	Ports []int
	// Auth is the token injected into the route's HTTPS requests.
	Auth *Auth
	// Outbound are the outbound DLP detectors; empty means scanning is off.
	Outbound []string
	// Inbound is true when responses are scanned for prompt injection.
	Inbound bool
	// OnMatch is supervise, redact or block.
	OnMatch string
	// GitFetch allows git-upload-pack.
	GitFetch bool
	// UnsafeAllowPrivate lets the host resolve to private addresses.
	UnsafeAllowPrivate bool
	// WebSocket lets the route's requests upgrade to WebSocket (frames
	// scanned by the proxy); MaxMessage bounds one message in bytes.
	WebSocket  bool
	MaxMessage int64

	matches []match
	wire    manifest.Route
	// grant limits an operator's scoped approval; nil means none.
	grant *grant
	// suffix is ".example.test" for a *.example.test route, else "".
	suffix string
}

// Auth names the injected token and where it goes. The value is never
// held here.
type Auth struct {
	// Placement is manifest.PlaceScheme, PlaceHeader, PlaceBasic,
	// PlaceQuery or PlacePlaceholder (the sentinel swap only).
	Placement string
	Scheme    string // Bearer or token, for PlaceScheme
	Header    string // canonical header name, for PlaceHeader
	BasicUser string // for PlaceBasic
	Query     string // for PlaceQuery
	// Placeholder is the agent env var holding this route's sentinel;
	// InBody swaps it in request bodies too.
	Placeholder string
	InBody      bool
	TokenRef    string // env var holding the value
}

type match struct {
	paths   []pathMatch
	methods []string
	headers []headerMatch
}

type pathMatch struct {
	exact, prefix string
	re            *regexp.Regexp
}

type headerMatch struct {
	name  string
	exact string
	re    *regexp.Regexp
}

// Compile validates the manifest's egress block and builds a Policy. A nil
// block is the empty policy: everything refused.
func Compile(e *manifest.Egress) (*Policy, error) {
	p := &Policy{Log: DefaultLog}
	if e == nil {
		return p, nil
	}
	if e.Log != nil {
		if *e.Log < 0 || *e.Log > 2 {
			return nil, fmt.Errorf("egress.log: %d is not 0, 1 or 2", *e.Log)
		}
		p.Log = *e.Log
	}
	for i, w := range e.Routes {
		r, err := compileRoute(w)
		if err != nil {
			return nil, fmt.Errorf("egress.routes[%d] (%s): %w", i, w.Host, err)
		}
		p.Routes = append(p.Routes, r)
	}
	return p, nil
}

func compileRoute(w manifest.Route) (*Route, error) {
	host, suffix, err := parseRouteHostOrWildcard(w.Host)
	if err != nil {
		return nil, err
	}
	for _, p := range w.Ports {
		if p < 1 || p > 65535 {
			return nil, fmt.Errorf("ports: %d is not a port (1-65535)", p)
		}
	}
	r := &Route{
		Host:               host,
		Ports:              slices.Clone(w.Ports),
		suffix:             suffix,
		Outbound:           []string{DetectorTokenPatterns, DetectorKnownSecrets, DetectorFinancial},
		Inbound:            true,
		OnMatch:            OnMatchSupervise,
		UnsafeAllowPrivate: w.UnsafeAllowPrivate,
		WebSocket:          w.WebSocket,
		MaxMessage:         manifest.DefaultWebSocketMessage,
		wire:               w,
	}
	if w.WebSocketMaxMessage > 0 {
		r.MaxMessage = int64(w.WebSocketMaxMessage)
	}
	if w.Auth != nil {
		if suffix != "" {
			return nil, errors.New("auth on a wildcard host is refused: every sub-domain would receive the token")
		}
		if r.Auth, err = compileAuth(*w.Auth); err != nil {
			return nil, err
		}
	}
	if w.Git != nil {
		r.GitFetch = w.Git.Fetch
	}
	if d := w.DLP; d != nil {
		if o := d.OutboundDetectors; o != nil {
			r.Outbound = nil
			if !o.Off {
				for _, n := range o.Names {
					if n != DetectorTokenPatterns && n != DetectorKnownSecrets && n != DetectorEntropy && n != DetectorFinancial {
						return nil, fmt.Errorf("dlp.outbound_detectors: unknown detector %q", n)
					}
					r.Outbound = append(r.Outbound, n)
				}
			}
		}
		if in := d.InboundDetectors; in != nil {
			r.Inbound = false
			if !in.Off {
				for _, n := range in.Names {
					if n != DetectorNaiveInjection {
						return nil, fmt.Errorf("dlp.inbound_detectors: unknown detector %q", n)
					}
					r.Inbound = true
				}
			}
		}
		switch d.OutboundOnMatch {
		case "":
		case OnMatchSupervise, OnMatchRedact, OnMatchBlock:
			r.OnMatch = d.OutboundOnMatch
		default:
			return nil, fmt.Errorf("dlp.outbound_on_match %q is not supervise, redact or block", d.OutboundOnMatch)
		}
	}
	if w.Grant != nil {
		if r.grant, err = compileGrant(*w.Grant); err != nil {
			return nil, err
		}
	}
	for i, m := range w.Matches {
		cm, err := compileMatch(m)
		if err != nil {
			return nil, fmt.Errorf("matches[%d]: %w", i, err)
		}
		r.matches = append(r.matches, cm)
	}
	return r, nil
}

// ParseRouteHost checks a route's host and returns it normalized:
// "api.example.com" or an IP literal such as "10.0.0.5" or "::1". Schemes,
// paths, ports, wildcards and user info are refused.
func ParseRouteHost(s string) (string, error) {
	if s == "" {
		return "", errors.New("host is empty")
	}
	if strings.ContainsAny(s, "/@*?# \t") {
		return "", fmt.Errorf("host %q must be a bare host name or IP address (no scheme, path or wildcard)", s)
	}
	host := NormalizeHost(s)
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	if strings.Contains(host, ":") {
		return "", fmt.Errorf("host %q: a route has no port (443 and 80 are allowed)", s)
	}
	if !validName(host) {
		return "", fmt.Errorf("host %q is not a valid host name", s)
	}
	return host, nil
}

// NormalizeHost lower-cases a host and strips a trailing dot and IPv6
// brackets.
func NormalizeHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if ip := net.ParseIP(h); ip != nil {
		return ip.String()
	}
	return h
}

func validName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func compileMatch(m manifest.Match) (match, error) {
	var out match
	for i, p := range m.Paths {
		switch p.Type {
		case "", "prefix":
			out.paths = append(out.paths, pathMatch{prefix: p.Value})
		case "exact":
			out.paths = append(out.paths, pathMatch{exact: p.Value})
		case "regex":
			re, err := regexp.Compile(`^(?:` + p.Value + `)$`)
			if err != nil {
				return out, fmt.Errorf("paths[%d]: %w", i, err)
			}
			out.paths = append(out.paths, pathMatch{re: re})
		default:
			return out, fmt.Errorf("paths[%d]: type %q is not prefix, exact or regex", i, p.Type)
		}
		if p.Type != "regex" && !strings.HasPrefix(p.Value, "/") {
			return out, fmt.Errorf("paths[%d]: %q does not start with /", i, p.Value)
		}
	}
	for _, meth := range m.Methods {
		meth = strings.ToUpper(meth)
		if meth == "" || meth == "TRACE" || meth == "CONNECT" {
			return out, fmt.Errorf("methods: %q cannot be allowed", meth)
		}
		out.methods = append(out.methods, meth)
	}
	for i, h := range m.Headers {
		if h.Name == "" {
			return out, fmt.Errorf("headers[%d]: name is empty", i)
		}
		hm := headerMatch{name: http.CanonicalHeaderKey(strings.ReplaceAll(h.Name, "_", "-"))}
		switch h.Type {
		case "", "exact":
			hm.exact = h.Value
		case "regex":
			re, err := regexp.Compile(`^(?:` + h.Value + `)$`)
			if err != nil {
				return out, fmt.Errorf("headers[%d]: %w", i, err)
			}
			hm.re = re
		default:
			return out, fmt.Errorf("headers[%d]: type %q is not exact or regex", i, h.Type)
		}
		out.headers = append(out.headers, hm)
	}
	return out, nil
}

func (m match) ok(r Request) bool {
	if len(m.paths) > 0 {
		hit := false
		for _, p := range m.paths {
			switch {
			case p.re != nil:
				hit = p.re.MatchString(r.Path)
			case p.exact != "":
				hit = r.Path == p.exact
			default:
				hit = strings.HasPrefix(r.Path, p.prefix)
			}
			if hit {
				break
			}
		}
		if !hit {
			return false
		}
	}
	if len(m.methods) > 0 {
		// The request line's method and any the request asks the upstream
		// to run instead must all be listed.
		for _, meth := range append(methodOverrides(r), r.Method) {
			if !slices.Contains(m.methods, meth) {
				return false
			}
		}
	}
	for _, h := range m.headers {
		// Every value must match: an upstream may read any one of them.
		vs := headerValues(r.Header, h.name)
		if len(vs) == 0 {
			return false
		}
		for _, v := range vs {
			if h.re != nil && !h.re.MatchString(v) || h.re == nil && v != h.exact {
				return false
			}
		}
	}
	return true
}

// headerValues are the values an upstream may read for the canonical name:
// every line of it, also spelled with _ for - (CGI and WSGI servers fold
// the two), and none when Connection names it (the proxy drops it before
// forwarding, so the upstream would not see what was matched).
func headerValues(h http.Header, name string) []string {
	fold := func(k string) string {
		return http.CanonicalHeaderKey(strings.ReplaceAll(strings.TrimSpace(k), "_", "-"))
	}
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if fold(tok) == name {
				return nil
			}
		}
	}
	out := h[name]
	for k, vs := range h {
		// Keys from the wire are canonical already; only others can fold
		// onto name.
		if k != name && (strings.Contains(k, "_") || http.CanonicalHeaderKey(k) != k) && fold(k) == name {
			out = append(out[:len(out):len(out)], vs...)
		}
	}
	return out
}
