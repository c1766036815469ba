package policy

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Code is the machine-readable reason for a decision. Refusal codes are
// sent to the agent in the X-Bot-Bottle-Refusal header.
type Code string

// Decision codes.
const (
	CodeAllowed       Code = "allowed"
	CodeNoRoute       Code = "no-route"
	CodeIPLiteral     Code = "ip-literal"
	CodePort          Code = "port"
	CodeNoMatch       Code = "no-match"
	CodeMethod        Code = "method"
	CodePath          Code = "path"
	CodeUpgrade       Code = "upgrade"
	CodeGitPush       Code = "git-push"
	CodeGitFetch      Code = "git-fetch"
	CodeDoH           Code = "doh"
	CodeInsecureAuth  Code = "insecure-auth"
	CodeHostMismatch  Code = "host-mismatch"
	CodePrivate       Code = "private-address"
	CodeResolve       Code = "resolve"
	CodeOpaqueTunnel  Code = "opaque-tunnel"
	CodeDLP           Code = "dlp"
	CodeDLPUnscanable Code = "dlp-unscannable"
	CodeInjection     Code = "injection"
	CodeTokenEcho     Code = "token-echo"
	CodeBadRequest    Code = "bad-request"
	CodeUpstream      Code = "upstream"
)

// Request is what the policy sees of one request. Host is normalized
// (NormalizeHost); Path is the decoded URL path.
type Request struct {
	Method string
	Scheme string // https or http
	Host   string
	Port   int
	Path   string
	Query  string
	Header http.Header
}

// Decision is the outcome for one request or CONNECT.
type Decision struct {
	Allow  bool
	Code   Code
	Reason string
	// Route is the route that allowed the request (nil when refused before
	// a route was chosen).
	Route *Route
}

func refuse(c Code, format string, args ...any) Decision {
	return Decision{Code: c, Reason: fmt.Sprintf(format, args...)}
}

// resolverHosts are public DNS-over-HTTPS services. A route to one of them
// would let the agent resolve (and so signal) anything.
var resolverHosts = map[string]bool{
	"dns.google": true, "dns.google.com": true, "8.8.8.8": true, "8.8.4.4": true,
	"cloudflare-dns.com": true, "mozilla.cloudflare-dns.com": true, "one.one.one.one": true,
	"1.1.1.1": true, "1.0.0.1": true, "security.cloudflare-dns.com": true, "family.cloudflare-dns.com": true,
	"dns.quad9.net": true, "dns9.quad9.net": true, "dns10.quad9.net": true, "dns11.quad9.net": true,
	"9.9.9.9": true, "149.112.112.112": true,
	"doh.opendns.com": true, "dns.opendns.com": true, "208.67.222.222": true, "208.67.220.220": true,
	"dns.adguard.com": true, "dns.adguard-dns.com": true, "dns.nextdns.io": true,
	"doh.cleanbrowsing.org": true, "doh.mullvad.net": true, "dns.mullvad.net": true,
	"doh.dns.sb": true, "dns.alidns.com": true, "doh.pub": true, "dns.twnic.tw": true,
	"2001:4860:4860::8888": true, "2001:4860:4860::8844": true, "2606:4700:4700::1111": true, "2606:4700:4700::1001": true,
}

// IsResolverHost reports whether host is a well-known DoH resolver.
func IsResolverHost(host string) bool { return resolverHosts[NormalizeHost(host)] }

// DecideConnect decides a CONNECT to host:port, before any TLS: allowed
// when some route allows HTTPS to that host and port.
func (p *Policy) DecideConnect(host string, port int) Decision {
	host = NormalizeHost(host)
	if d, ok := p.hostRefusal(host); !ok {
		return d
	}
	var hostKnown bool
	for _, r := range p.Routes {
		if r.Host != host {
			continue
		}
		hostKnown = true
		if p.allowsPort("https", port) {
			return Decision{Allow: true, Code: CodeAllowed, Reason: fmt.Sprintf("route %s allows CONNECT", r.Name()), Route: r}
		}
	}
	if hostKnown {
		return refuse(CodePort, "port %d is not allowed for %s: routes allow 443 for https and 80 for http", port, host)
	}
	return p.noRoute(host)
}

func (p *Policy) noRoute(host string) Decision {
	if net.ParseIP(host) != nil {
		return refuse(CodeIPLiteral, "IP address %s is refused: no route names this address", host)
	}
	return refuse(CodeNoRoute, "no egress route allows host %s", host)
}

func (p *Policy) hostRefusal(host string) (Decision, bool) {
	if host == "" {
		return refuse(CodeBadRequest, "request has no host"), false
	}
	if IsResolverHost(host) {
		return refuse(CodeDoH, "%s is a DNS-over-HTTPS resolver; DNS goes through the bottle's resolver only", host), false
	}
	return Decision{}, true
}

func (p *Policy) allowsPort(scheme string, port int) bool {
	if scheme == "https" && port == PortHTTPS || scheme == "http" && port == PortHTTP {
		return true
	}
	return slices.Contains(p.ExtraPorts, port)
}

// Name names the route in logs and messages.
func (r *Route) Name() string { return r.Host }

// Decide decides one HTTP request (absolute-form, or decrypted inside an
// allowed tunnel). The first route for the host whose matches accept the
// request is used.
func (p *Policy) Decide(req Request) Decision {
	req.Host = NormalizeHost(req.Host)
	req.Method = strings.ToUpper(req.Method)
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if d, ok := p.hostRefusal(req.Host); !ok {
		return d
	}
	if req.Method == "TRACE" || req.Method == "TRACK" || req.Method == "CONNECT" {
		return refuse(CodeMethod, "method %s is never forwarded", req.Method)
	}
	if hasDotSegment(req.Path) {
		return refuse(CodePath, "path %q has . or .. segments; send the normalized path", req.Path)
	}
	if isUpgrade(req.Header) {
		return refuse(CodeUpgrade, "protocol upgrade (%s) would become an unscanned tunnel", req.Header.Get("Upgrade"))
	}
	if isDoH(req) {
		return refuse(CodeDoH, "DNS-over-HTTPS is refused on every host; DNS goes through the bottle's resolver only")
	}
	if svc := gitService(req); svc == "git-receive-pack" {
		return refuse(CodeGitPush, "git push over HTTP(S) is refused; push through git-gate")
	}
	var candidates, portOK bool
	for _, r := range p.Routes {
		if r.Host != req.Host {
			continue
		}
		candidates = true
		if !p.allowsPort(req.Scheme, req.Port) {
			continue
		}
		portOK = true
		if !r.matchesRequest(req) {
			continue
		}
		if r.Auth != nil && req.Scheme != "https" {
			return refuse(CodeInsecureAuth, "route %s injects a token; plain http is refused, use https", r.Name())
		}
		if gitService(req) == "git-upload-pack" && !r.GitFetch {
			return refuse(CodeGitFetch, "git fetch from %s is not allowed: the route needs git: {fetch: true}", r.Name())
		}
		return Decision{Allow: true, Code: CodeAllowed, Reason: "route " + r.Name() + " allows " + req.Method + " " + req.Path, Route: r}
	}
	switch {
	case !candidates:
		return p.noRoute(req.Host)
	case !portOK:
		return refuse(CodePort, "port %d is not allowed for %s over %s: routes allow 443 for https and 80 for http", req.Port, req.Host, req.Scheme)
	}
	return refuse(CodeNoMatch, "no route for %s matches %s %s", req.Host, req.Method, req.Path)
}

func (r *Route) matchesRequest(req Request) bool {
	if len(r.matches) == 0 {
		return true
	}
	for _, m := range r.matches {
		if m.ok(req) {
			return true
		}
	}
	return false
}

// AllowsPrivate reports whether host may resolve to a private address:
// some route for it says unsafe_allow_private.
func (p *Policy) AllowsPrivate(host string) bool {
	host = NormalizeHost(host)
	for _, r := range p.Routes {
		if r.Host == host && r.UnsafeAllowPrivate {
			return true
		}
	}
	return false
}

func hasDotSegment(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func isUpgrade(h http.Header) bool {
	if h.Get("Upgrade") != "" {
		return true
	}
	for _, v := range h.Values("Connection") {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return true
			}
		}
	}
	return false
}

func isDoH(req Request) bool {
	if req.Path == "/dns-query" || strings.HasPrefix(req.Path, "/dns-query/") {
		return true
	}
	for _, k := range []string{"Content-Type", "Accept"} {
		for _, v := range req.Header.Values(k) {
			for _, part := range strings.Split(v, ",") {
				mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
				if err != nil {
					mt = strings.ToLower(strings.TrimSpace(part))
				}
				if mt == "application/dns-message" || mt == "application/dns-json" {
					return true
				}
			}
		}
	}
	return false
}

// gitService names the git smart-HTTP service a request is part of, or "".
func gitService(req Request) string {
	for _, s := range []string{"git-receive-pack", "git-upload-pack"} {
		if strings.HasSuffix(req.Path, "/"+s) {
			return s
		}
		q, err := url.ParseQuery(req.Query)
		if slices.Contains(q["service"], s) || err != nil && strings.Contains(req.Query, s) {
			return s
		}
		if strings.HasPrefix(strings.ToLower(req.Header.Get("Content-Type")), "application/x-"+s) {
			return s
		}
	}
	return ""
}
