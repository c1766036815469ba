package policy

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
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
	// CodeInboundUnscannable: a response on a route that scans responses
	// came in an encoding (or at a size) that cannot be decoded for
	// scanning; it is withheld, never passed unscanned.
	CodeInboundUnscannable Code = "inbound-unscannable"
	CodeTokenEcho          Code = "token-echo"
	// CodeHostName: the requested host name looks like it carries data
	// (encoded labels, a deep chain) on a route that does not name it.
	CodeHostName   Code = "host-name"
	CodeBadRequest Code = "bad-request"
	CodeUpstream   Code = "upstream"
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
	// Body, when the proxy has read it, is searched for a _method field
	// (bodymethod.go); nil while the body has not arrived.
	Body []byte
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
	var known *Route
	for _, r := range p.Routes {
		if !r.MatchesHost(host) {
			continue
		}
		known = r
		if p.allowsPort(r, "https", port) {
			return Decision{Allow: true, Code: CodeAllowed, Reason: fmt.Sprintf("route %s allows CONNECT", r.Name()), Route: r}
		}
	}
	if known != nil {
		return refuse(CodePort, "port %d is not allowed for %s: route %s allows %s (add the port to its ports list)", port, host, known.Name(), portList(p.portsOf(known)))
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

func portList(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}

func (p *Policy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
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
	for _, m := range methodOverrides(req) {
		if m == "TRACE" || m == "TRACK" || m == "CONNECT" {
			return refuse(CodeMethod, "method %s (asked for in a method-override) is never forwarded", m)
		}
	}
	for _, name := range pathOverrideHeaders {
		if len(headerValues(req.Header, name)) > 0 {
			return refuse(CodePath, "header %s would have the upstream serve another path than the one checked; it is refused", name)
		}
	}
	pv := viewPath(req.Path)
	if pv.hasDotSegment() {
		return refuse(CodePath, "path %q has . or .. segments (also percent-encoded, twice-encoded, before a ;parameter or between backslashes); send the normalized path", req.Path)
	}
	upgrade := isUpgrade(req.Header)
	if upgrade && !IsWebSocketUpgrade(req.Method, req.Header) {
		return refuse(CodeUpgrade, "protocol upgrade (%s) would become an unscanned tunnel", req.Header.Get("Upgrade"))
	}
	if isDoH(req, pv) {
		return refuse(CodeDoH, "DNS-over-HTTPS is refused on every host; DNS goes through the bottle's resolver only")
	}
	svc := gitService(req, pv)
	if svc == "git-receive-pack" {
		return refuse(CodeGitPush, "git push over HTTP(S) is refused; push through git-gate")
	}
	var candidate *Route
	var portOK bool
	var spent string // why a grant that matched no longer allows
	for _, r := range p.Routes {
		if !r.MatchesHost(req.Host) {
			continue
		}
		candidate = r
		if !p.allowsPort(r, req.Scheme, req.Port) {
			continue
		}
		portOK = true
		if !r.matchesRequest(req) {
			continue
		}
		if r.grant != nil {
			why, ok := r.grant.take(p.now())
			if !ok {
				spent = why
				continue
			}
		}
		if r.Auth != nil && req.Scheme != "https" {
			return refuse(CodeInsecureAuth, "route %s injects a token; plain http is refused, use https", r.Name())
		}
		if upgrade && !r.WebSocket {
			return refuse(CodeUpgrade, "WebSocket upgrade to %s: route %s does not allow it (websocket: true lets it, with every message scanned)", req.Host, r.Name())
		}
		if svc == "git-upload-pack" && !r.GitFetch {
			return refuse(CodeGitFetch, "git fetch from %s is not allowed: the route needs git: {fetch: true}", r.Name())
		}
		reason := "route " + r.Name() + " allows " + req.Method + " " + req.Path
		if r.grant != nil {
			reason += " under grant " + r.grant.id
		}
		return Decision{Allow: true, Code: CodeAllowed, Reason: reason, Route: r}
	}
	switch {
	case spent != "":
		return refuse(CodeGrantSpent, "%s: %s %s to %s is refused again (ask the operator for a new grant)", spent, req.Method, req.Path, req.Host)
	case candidate == nil:
		return p.noRoute(req.Host)
	case !portOK:
		return refuse(CodePort, "port %d is not allowed for %s over %s: route %s allows %s (443 for https and 80 for http unless it lists ports)", req.Port, req.Host, req.Scheme, candidate.Name(), portList(p.portsOf(candidate)))
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

// NamesExactly reports whether some route names host itself, not by a
// wildcard: the name is the operator's, not the agent's.
func (p *Policy) NamesExactly(host string) bool {
	host = NormalizeHost(host)
	for _, r := range p.Routes {
		if r.suffix == "" && r.Host == host {
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
		if r.MatchesHost(host) && r.UnsafeAllowPrivate {
			return true
		}
	}
	return false
}

// methodOverrideHeaders and the _method query parameter make many
// frameworks (Rails, Laravel, Express's method-override, Google APIs) run
// another method than the request line's: a methods list must hold for
// them too.
var methodOverrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// pathOverrideHeaders make IIS and Symfony serve the path they name
// instead of the request line's.
var pathOverrideHeaders = []string{"X-Original-Url", "X-Rewrite-Url"}

// methodOverrides are the methods, upper-cased, that req asks an upstream
// to run instead of its own.
func methodOverrides(req Request) []string {
	var out []string
	for _, name := range methodOverrideHeaders {
		for _, v := range headerValues(req.Header, name) {
			for _, m := range strings.Split(v, ",") {
				out = append(out, strings.ToUpper(strings.TrimSpace(m)))
			}
		}
	}
	out = append(out, queryMethodOverrides(req.Query)...)
	return append(out, bodyMethodOverrides(req.Header, req.Body)...)
}

// pathView is a path as upstreams might read it: the segments of each
// decoded form (see lenientForms).
type pathView struct {
	forms [][]string
	// deep: still encoded after four rounds; no honest client does that.
	deep bool
}

func viewPath(path string) pathView {
	forms, ok := lenientForms(path, false)
	v := pathView{forms: make([][]string, len(forms)), deep: !ok}
	for i, f := range forms {
		v.forms[i] = pathSegments(f)
	}
	return v
}

func (v pathView) hasDotSegment() bool {
	if v.deep {
		return true
	}
	for _, segs := range v.forms {
		for _, seg := range segs {
			if isDotSegment(seg) {
				return true
			}
		}
	}
	return false
}

// isDotSegment: "." or "..", also with trailing spaces (Windows drops
// them). Look-alikes are folded already (lenientForms).
func isDotSegment(seg string) bool {
	seg = strings.TrimRight(seg, " \t")
	return seg == "." || seg == ".."
}

// slashLike are read as / or \ by servers with "best fit" Unicode
// mapping (IIS): division and fraction slashes, and their mirror images.
func slashLike(r rune) bool {
	switch r {
	case '/', '\\', '\u2215', '\u2044', '\u29f8', '\u2216', '\u29f9':
		return true
	}
	return false
}

// pathSegments splits a path on / and \ (IIS, some Node and Java servers)
// and their look-alikes (slashLike)
// and cuts each segment at a ;parameter (Tomcat, Jetty: /a/..;/b) or a NUL
// (C servers stop there).
func pathSegments(path string) []string {
	segs := strings.FieldsFunc(path, slashLike)
	for i, seg := range segs {
		seg, _, _ = strings.Cut(seg, ";")
		segs[i], _, _ = strings.Cut(seg, "\x00")
	}
	return segs
}

// IsWebSocketUpgrade reports a WebSocket opening handshake (RFC 6455
// 4.1): GET with Upgrade: websocket, and no other protocol offered.
func IsWebSocketUpgrade(method string, h http.Header) bool {
	up := h.Values("Upgrade")
	return method == http.MethodGet && len(up) == 1 && strings.EqualFold(strings.TrimSpace(up[0]), "websocket")
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

func isDoH(req Request, pv pathView) bool {
	// Any spelling a server may route to /dns-query: nginx merges //, and
	// ;params and case are often ignored.
	for _, segs := range pv.forms {
		if len(segs) > 0 && strings.EqualFold(segs[0], "dns-query") {
			return true
		}
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
// Any spelling an upstream might route is counted: the service as any path
// segment (a trailing slash, a ;parameter, decoded again), any case, and
// every Content-Type line.
func gitService(req Request, pv pathView) string {
	q, qerr := url.ParseQuery(req.Query)
	for _, s := range []string{"git-receive-pack", "git-upload-pack"} {
		for _, segs := range pv.forms {
			for _, seg := range segs {
				if strings.EqualFold(seg, s) {
					return s
				}
			}
		}
		for _, v := range q["service"] {
			if strings.EqualFold(v, s) {
				return s
			}
		}
		if qerr != nil && strings.Contains(strings.ToLower(req.Query), s) {
			return s
		}
		for _, ct := range req.Header.Values("Content-Type") {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/x-"+s) {
				return s
			}
		}
	}
	return ""
}
