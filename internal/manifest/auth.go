package manifest

import (
	"fmt"
	"net/http"
	"strings"
)

// Where an auth value goes (AuthPlacement).
const (
	PlaceScheme      = "scheme"
	PlaceHeader      = "header"
	PlaceBasic       = "basic_user"
	PlaceQuery       = "query"
	PlacePlaceholder = "placeholder" // the sentinel swap only
)

// Kinds of provider credential (agent_provider.auth_kind).
const (
	AuthKindAPIKey = "api_key"
	AuthKindOAuth  = "oauth"
)

// A placeholder's sentinel: SentinelPrefix and 32 random lower-case
// letters and digits (tokens of that shape pass the checks tools make),
// in the agent's env under the placeholder's name and in the sidecar's
// under SentinelEnvPrefix + name.
const (
	SentinelPrefix    = "bbsentinel"
	SentinelEnvPrefix = "BOT_BOTTLE_SENTINEL_"
)

// Placement says where a's value goes: scheme, header, basic_user, query,
// or placeholder (a sentinel swap and nothing else). It assumes a
// validated Auth; with none of the keys it is scheme (Bearer).
func (a Auth) Placement() string {
	switch {
	case a.Header != "":
		return PlaceHeader
	case a.BasicUser != "":
		return PlaceBasic
	case a.Query != "":
		return PlaceQuery
	case a.Scheme != "":
		return PlaceScheme
	case a.Placeholder != "":
		return PlacePlaceholder
	}
	return PlaceScheme
}

// EffectiveScheme is the Authorization scheme of a scheme placement:
// Bearer unless the route says token.
func (a Auth) EffectiveScheme() string {
	if a.Scheme == "" {
		return "Bearer"
	}
	return a.Scheme
}

// Headers an auth.header may not name: the proxy sets or drops them
// itself, and a token there would change how the request is framed or
// routed rather than authenticate it.
var forbiddenAuthHeaders = []string{
	"Host", "Content-Length", "Transfer-Encoding", "Connection", "Proxy-Connection",
	"Keep-Alive", "Upgrade", "Te", "Trailer", "Proxy-Authorization", "Proxy-Authenticate",
	"Content-Type", "Content-Encoding", "Cookie", "Expect",
}

// Query parameter names: letters, digits, _ . - (no &, =, # or spaces).
func validQueryName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// validateAuth checks a route's auth block; host is the route's host.
func validateAuth(a *Auth, host string, add func(field, format string, args ...any)) {
	if IsWildcardHost(host) {
		add("auth", "a wildcard host may not carry auth: any sub-domain, even one the agent can make someone else serve (a Pages site), would receive the token; give the exact host name")
	}
	if a.TokenRef == "" {
		add("auth.token_ref", "missing: name the env var that holds the token, such as GITHUB_TOKEN")
	} else if !tokenEnvRE.MatchString(a.TokenRef) {
		// Not quoted: it may be a pasted token.
		add("auth.token_ref", "not an env var name (upper case letters, digits and _); give the name of the variable that holds the token, such as GITHUB_TOKEN, never the token itself")
	}
	var set []string
	for _, kv := range [][2]string{{PlaceScheme, a.Scheme}, {PlaceHeader, a.Header}, {PlaceBasic, a.BasicUser}, {PlaceQuery, a.Query}} {
		if kv[1] != "" {
			set = append(set, kv[0])
		}
	}
	if len(set) > 1 {
		add("auth", "%s each say where the token goes; keep one of them (scheme: Authorization: <scheme> <token>, header: NAME: <token>, basic_user: HTTP Basic, query: ?PARAM=<token>)", strings.Join(set, " and "))
	}
	if a.Scheme != "" && a.Scheme != "Bearer" && a.Scheme != "token" {
		hint := "use Bearer or token"
		if strings.EqualFold(a.Scheme, "basic") {
			hint = "for HTTP Basic write basic_user: USER instead of scheme"
		}
		add("auth.scheme", "%q is not a scheme; %s", a.Scheme, hint)
	}
	if a.Header != "" {
		canon := http.CanonicalHeaderKey(strings.ReplaceAll(a.Header, "_", "-"))
		switch {
		case !headerNameRE.MatchString(a.Header):
			add("auth.header", "%s is not a header name (letters, digits and -)", quoteOrMissing(a.Header))
		case strings.Contains(a.Header, "_"):
			add("auth.header", "%q: write the header with - (servers fold _ into -, and the proxy strips every spelling the agent sends)", a.Header)
		case contains(forbiddenAuthHeaders, canon):
			add("auth.header", "%q is set or dropped by the proxy itself; name the header the service reads the token from, such as x-api-key", a.Header)
		}
	}
	if a.BasicUser != "" && (strings.ContainsAny(a.BasicUser, ":\r\n\t") || strings.TrimSpace(a.BasicUser) != a.BasicUser) {
		add("auth.basic_user", "a Basic user name may not hold ':', spaces at its ends or control characters; give the user the service expects, such as x-access-token")
	}
	if a.Query != "" && !validQueryName(a.Query) {
		add("auth.query", "%q is not a query parameter name (letters, digits, _ . -)", a.Query)
	}
	if a.Placeholder != "" {
		switch {
		case !tokenEnvRE.MatchString(a.Placeholder):
			add("auth.placeholder", "%q is not an env var name (upper case letters, digits and _); name the variable the agent's tool reads, such as NPM_TOKEN", a.Placeholder)
		case contains(ReservedEnv(), a.Placeholder):
			add("auth.placeholder", "%s is set by bot-bottle itself; pick the variable the agent's tool reads its token from", a.Placeholder)
		}
	}
	if a.PlaceholderInBody && a.Placeholder == "" {
		add("auth.placeholder_in_body", "needs placeholder: NAME (the env var whose sentinel is swapped); add it or drop placeholder_in_body")
	}
}

// validatePorts checks a route's ports list.
func validatePorts(ports []int, add func(field, format string, args ...any)) {
	seen := map[int]bool{}
	for i, p := range ports {
		switch {
		case p < 1 || p > 65535:
			add(fmt.Sprintf("ports[%d]", i), "%d is not a port; give a number from 1 to 65535, such as 8443", p)
		case seen[p]:
			add(fmt.Sprintf("ports[%d]", i), "port %d is listed twice; keep one", p)
		}
		seen[p] = true
	}
}

// IsWildcardHost reports whether a route host is the `*.suffix` form.
func IsWildcardHost(h string) bool { return strings.HasPrefix(h, "*.") }

// checkWildcardHost returns what is wrong with a `*.suffix` host, or "".
func checkWildcardHost(h string) string {
	suffix := strings.TrimPrefix(h, "*.")
	switch {
	case strings.Contains(suffix, "*"):
		return fmt.Sprintf("%q: only one leading *. is allowed, such as *.githubusercontent.com", h)
	case strings.ToLower(suffix) != suffix:
		return fmt.Sprintf("%q: write host names in lower case", h)
	case !hostRE.MatchString(suffix) || !strings.Contains(suffix, "."):
		return fmt.Sprintf("%q: give a domain of at least two labels after *., such as *.githubusercontent.com", h)
	}
	return ""
}
