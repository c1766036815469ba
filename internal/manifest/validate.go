package manifest

import (
	"encoding/base64"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Names of manifests, agents, bottles, plugins and skills.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// Env var names, for env keys, token_ref and auth_token.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Env var names that hold tokens: upper case, so a pasted token value
// (ghp_..., sk-...) is caught rather than taken for a name.
var tokenEnvRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// Repo names end up in a URL path (/NAME.git) and a file name.
var repoNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Host names as a route may give them: DNS labels, or an IP literal.
var hostRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// HTTP method tokens.
var methodRE = regexp.MustCompile(`^[A-Z]+$`)

// Header field names (RFC 9110 token).
var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// ValidName reports whether s is a valid manifest, agent or bottle name.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// ValidEnvName reports whether s is a valid environment variable name.
func ValidEnvName(s string) bool { return envNameRE.MatchString(s) }

// Detector names, by direction.
const (
	DetectorTokenPatterns  = "token_patterns"
	DetectorKnownSecrets   = "known_secrets"
	DetectorEntropy        = "entropy"
	DetectorFinancial      = "financial"
	DetectorNaiveInjection = "naive_injection_detection"
)

// OutboundOnMatch values.
const (
	OnMatchSupervise = "supervise"
	OnMatchRedact    = "redact"
	OnMatchBlock     = "block"
)

// Built-in provider templates.
var builtinTemplates = []string{"claude", "codex", "pi", "shell"}

// BuiltinTemplate reports whether t is a provider template bot-bottle ships.
func BuiltinTemplate(t string) bool {
	for _, b := range builtinTemplates {
		if t == b {
			return true
		}
	}
	return false
}

// ValidateRoute checks every rule on one egress route and returns every
// problem as FieldErrors (paths relative to the route), or nil. The loader
// runs it on each manifest route; the supervise server runs it on routes an
// agent proposes.
// WebSocket message limits: the default a route gets, and the most one
// may raise it to (a message is held whole while it is scanned).
const (
	DefaultWebSocketMessage = 16 << 20
	MaxWebSocketMessage     = 256 << 20
)

func ValidateRoute(r Route) error {
	return validateRoute(r, "").err()
}

func validateRoutes(rs []Route, path string) FieldErrors {
	var errs FieldErrors
	for i, r := range rs {
		errs = append(errs, validateRoute(r, fmt.Sprintf("%s[%d]", path, i))...)
	}
	return errs
}

func validateRoute(r Route, path string) FieldErrors {
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Path: joinPath(path, field), Message: fmt.Sprintf(format, args...)})
	}
	if msg := checkHost(r.Host); msg != "" {
		add("host", "%s", msg)
	}
	validatePorts(r.Ports, add)
	if r.Role != "" {
		add("role", `"role" is reserved and takes no value: delete it; a route's access is set by matches and auth`)
	}
	if r.Auth != nil {
		validateAuth(r.Auth, r.Host, add)
	}
	if g := r.Grant; g != nil {
		validateGrant(*g, add)
	}
	switch {
	case r.WebSocketMaxMessage != 0 && !r.WebSocket:
		add("websocket_max_message", "set without websocket: true; add websocket: true or drop it")
	case r.WebSocketMaxMessage < 0 || r.WebSocketMaxMessage > MaxWebSocketMessage:
		add("websocket_max_message", "%d is not between 1 and %d bytes", r.WebSocketMaxMessage, MaxWebSocketMessage)
	}
	for i, m := range r.Matches {
		mp := fmt.Sprintf("matches[%d]", i)
		if len(m.Paths) == 0 && len(m.Methods) == 0 && len(m.Headers) == 0 {
			add(mp, "empty match allows everything; give paths, methods or headers, or drop matches")
		}
		for j, p := range m.Paths {
			pp := fmt.Sprintf("%s.paths[%d]", mp, j)
			switch p.Type {
			case "", "prefix", "exact":
				if !strings.HasPrefix(p.Value, "/") {
					add(pp+".value", "%s must start with /", quoteOrMissing(p.Value))
				}
			case "regex":
				if p.Value == "" {
					add(pp+".value", "missing: give a regular expression")
				} else if _, err := regexp.Compile(p.Value); err != nil {
					add(pp+".value", "invalid regular expression: %v", err)
				}
			default:
				add(pp+".type", "%s is not a path match type; use prefix, exact or regex", quoteOrMissing(p.Type))
			}
		}
		for j, meth := range m.Methods {
			if !methodRE.MatchString(meth) {
				add(fmt.Sprintf("%s.methods[%d]", mp, j), "%q is not an HTTP method; write it in capitals, such as GET", meth)
			}
		}
		for j, h := range m.Headers {
			hp := fmt.Sprintf("%s.headers[%d]", mp, j)
			if !headerNameRE.MatchString(h.Name) {
				add(hp+".name", "%s is not a header name", quoteOrMissing(h.Name))
			}
			switch h.Type {
			case "", "exact":
			case "regex":
				if _, err := regexp.Compile(h.Value); err != nil {
					add(hp+".value", "invalid regular expression: %v", err)
				}
			default:
				add(hp+".type", "%q is not a header match type; use exact or regex", h.Type)
			}
		}
	}
	if dl := r.DLP; dl != nil {
		checkDetectors := func(field string, ds *Detectors, allowed ...string) {
			if ds == nil || ds.Off {
				return
			}
			if len(ds.Names) == 0 {
				add("dlp."+field, "empty list; write false to switch scanning off, or name detectors: %s", strings.Join(allowed, ", "))
			}
			for i, n := range ds.Names {
				if !contains(allowed, n) {
					add(fmt.Sprintf("dlp.%s[%d]", field, i), "unknown detector %q; use %s", n, strings.Join(allowed, ", "))
				}
			}
		}
		checkDetectors("outbound_detectors", dl.OutboundDetectors, DetectorTokenPatterns, DetectorKnownSecrets, DetectorFinancial, DetectorEntropy)
		checkDetectors("inbound_detectors", dl.InboundDetectors, DetectorNaiveInjection)
		switch dl.OutboundOnMatch {
		case "", OnMatchSupervise, OnMatchRedact, OnMatchBlock:
		default:
			add("dlp.outbound_on_match", "%q is not an action; use supervise, redact or block", dl.OutboundOnMatch)
		}
	}
	return errs
}

// checkHost returns what is wrong with a route's host, or "".
func checkHost(h string) string {
	switch {
	case h == "":
		return "missing: give the host name, such as api.github.com"
	case strings.Contains(h, "://") || strings.Contains(h, "/"):
		return fmt.Sprintf("%q is a URL; give only the host name, such as api.github.com", h)
	case IsWildcardHost(h):
		return checkWildcardHost(h)
	case strings.Contains(h, "*"):
		return fmt.Sprintf("%q: a wildcard is one leading *. (*.example.com matches its sub-domains, not example.com itself)", h)
	case net.ParseIP(strings.Trim(h, "[]")) != nil:
		return ""
	case strings.Contains(h, ":"):
		return fmt.Sprintf("%q: give only the host name and list the port under ports, such as ports: [8443]", h)
	case strings.ToLower(h) != h:
		return fmt.Sprintf("%q: write host names in lower case", h)
	case !hostRE.MatchString(h):
		return fmt.Sprintf("%q is not a host name", h)
	}
	return ""
}

func quoteOrMissing(s string) string {
	if s == "" {
		return "missing value"
	}
	return fmt.Sprintf("%q", s)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// validateBottle checks a bottle's own values (not its parents).
func validateBottle(b *BottleFile) FieldErrors {
	var errs FieldErrors
	add := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	for i, p := range b.Extends {
		if !ValidName(p) {
			add(fmt.Sprintf("extends[%d]", i), "%q is not a bottle name (lower case letters, digits and -, starting with a letter)", p)
		}
	}
	errs = append(errs, validateEnv(b.Env, "env")...)
	if b.Runtime != "" && b.Runtime != "runsc" && b.Runtime != "runc" {
		add("runtime", "%q is not runsc (require gVisor) or runc (forbid it)", b.Runtime)
	}
	errs = append(errs, validateResources(b.Resources)...)
	errs = append(errs, validateCapabilities(b.Capabilities)...)
	if ap := b.AgentProvider; ap != nil {
		if ap.Template != "" && !BuiltinTemplate(ap.Template) && !ValidName(ap.Template) {
			add("agent_provider.template", "%q is not claude, codex, pi, shell or a plugin name", ap.Template)
		}
		if ap.AuthToken != "" && !tokenEnvRE.MatchString(ap.AuthToken) {
			// Not quoted: it may be a pasted token.
			add("agent_provider.auth_token", "not an env var name (upper case letters, digits and _); give the name of the variable that holds the key, such as ANTHROPIC_API_KEY, never the key itself")
		}
		if ap.AuthKind != "" && ap.AuthKind != AuthKindAPIKey && ap.AuthKind != AuthKindOAuth {
			add("agent_provider.auth_kind", "%q is not a kind of credential; use api_key (sent as x-api-key) or oauth (a token from claude setup-token, sent as Bearer), or leave it out to tell it from the value", ap.AuthKind)
		}
	}
	if g := b.GitGate; g != nil {
		for _, name := range sortedKeys(g.Repos) {
			errs = append(errs, validateRepo(name, g.Repos[name], "git-gate.repos."+name)...)
		}
	}
	if e := b.Egress; e != nil {
		errs = append(errs, validateRoutes(e.Routes, "egress.routes")...)
		if e.Log != nil && (*e.Log < 0 || *e.Log > 2) {
			add("egress.log", "%d is not a log level; use 0 (refusals), 1 (every decision) or 2 (with headers)", *e.Log)
		}
	}
	return errs
}

// ReservedEnv are the agent env vars bot-bottle sets itself: the proxy and
// CA settings that make the sidecar the agent's only way out. A bottle's env
// may not set them.
func ReservedEnv() []string {
	return []string{
		"AWS_CA_BUNDLE", "BOT_BOTTLE_SLUG", "CARGO_HTTP_CAINFO", "CODEX_CA_CERTIFICATE",
		"CURL_CA_BUNDLE", "DENO_CERT", "GIT_SSL_CAINFO", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
		"HTTPS_PROXY", "HTTP_PROXY", "NODE_EXTRA_CA_CERTS", "NO_PROXY", "PIP_CERT",
		"REQUESTS_CA_BUNDLE", "SSL_CERT_DIR", "SSL_CERT_FILE",
		"http_proxy", "https_proxy", "no_proxy",
	}
}

func validateEnv(env map[string]string, path string) FieldErrors {
	var errs FieldErrors
	reserved := ReservedEnv()
	for _, k := range sortedKeys(env) {
		switch {
		case !ValidEnvName(k):
			errs = append(errs, FieldError{Path: joinPath(path, k), Message: fmt.Sprintf("%q is not an env var name", k)})
		case contains(reserved, k):
			errs = append(errs, FieldError{Path: joinPath(path, k), Message: "set by bot-bottle so the sidecar stays the agent's only way out; remove it"})
		}
	}
	return errs
}

// ValidateRepo checks one git-gate repo; path prefixes the field paths.
func ValidateRepo(name string, r Repo) error {
	return validateRepo(name, r, "").err()
}

func validateRepo(name string, r Repo, path string) FieldErrors {
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Path: joinPath(path, field), Message: fmt.Sprintf(format, args...)})
	}
	if !repoNameRE.MatchString(name) || strings.HasSuffix(name, ".git") || strings.Contains(name, "..") {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf("%q is not a repo name (letters, digits, ., _ and -; no .git suffix)", name)})
	}
	if r.URL == "" {
		add("url", "missing: give the SSH upstream, such as git@github.com:org/repo.git")
	} else if _, err := ParseSSHURL(r.URL); err != nil {
		add("url", "%v", err)
	}
	if r.HostKey == "" {
		add("host_key", "missing: pin the upstream's host key (a known_hosts line, or run ssh-keyscan HOST)")
	} else if err := checkHostKey(r.HostKey); err != nil {
		add("host_key", "%v", err)
	}
	switch r.Key.Provider {
	case "static":
	case "":
		add("key.provider", "missing: use static (the key is a file on this machine)")
	default:
		add("key.provider", "%q is not a key provider; use static", r.Key.Provider)
	}
	if r.Key.Path == "" {
		add("key.path", "missing: give the path of the SSH private key file")
	}
	return errs
}

// checkHostKey accepts a known_hosts line or a bare "TYPE BASE64" key.
func checkHostKey(s string) error {
	f := strings.Fields(s)
	for i := 0; i+1 < len(f); i++ {
		if isKeyType(f[i]) {
			if _, err := base64.StdEncoding.DecodeString(f[i+1]); err != nil {
				return fmt.Errorf("the key after %s is not base64", f[i])
			}
			return nil
		}
	}
	return fmt.Errorf("%q is not a host key; give a known_hosts line or TYPE BASE64 (ssh-keyscan prints them)", s)
}

func isKeyType(s string) bool {
	return strings.HasPrefix(s, "ssh-") || strings.HasPrefix(s, "ecdsa-sha2-") ||
		strings.HasPrefix(s, "sk-ssh-") || strings.HasPrefix(s, "sk-ecdsa-")
}

// validateAgent checks an agent's values.
func validateAgent(a *AgentFile) FieldErrors {
	var errs FieldErrors
	if a.Bottle != "" && !ValidName(a.Bottle) {
		errs = append(errs, FieldError{Path: "bottle", Message: fmt.Sprintf("%q is not a bottle name", a.Bottle)})
	}
	for i, s := range a.Skills {
		if !ValidName(s) {
			errs = append(errs, FieldError{Path: fmt.Sprintf("skills[%d]", i), Message: fmt.Sprintf("%q is not a skill name", s)})
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func validateGrant(g Grant, add func(field, format string, args ...any)) {
	if g.ID == "" {
		add("grant.id", "a grant needs an id")
	}
	if g.Expires != "" {
		if _, err := time.Parse(time.RFC3339, g.Expires); err != nil {
			add("grant.expires", "%q is not an RFC 3339 time", g.Expires)
		}
	}
	if g.Uses < 0 || g.Used < 0 {
		add("grant.uses", "uses and used are counts, not negative")
	}
}
