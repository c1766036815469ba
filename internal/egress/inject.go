package egress

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// credentialHeaders are removed from a route with auth (names folded by
// foldHeader): the proxy's value is the only credential that reaches the
// upstream.
var credentialHeaders = map[string]bool{
	"authorization": true, "x-api-key": true, "api-key": true, "apikey": true, "x-apikey": true,
	"x-goog-api-key": true, "private-token": true, "x-auth-token": true, "x-access-token": true,
	"openai-api-key": true, "anthropic-api-key": true, "x-auth": true, "auth": true,
	"x-token": true, "token": true, "access-token": true, "x-auth-key": true, "cookie": true, "cookie2": true,
	"x-amz-security-token": true,
}

// foldHeader is a header name as servers that fold them see it: lower
// case, _ as -, and no - at either end (CGI and WSGI turn
// "Authorization_" and "X_Api_Key" into names they match as the real ones).
func foldHeader(name string) string {
	return strings.Trim(strings.ToLower(strings.ReplaceAll(name, "_", "-")), "-")
}

// credentialHeader reports whether an agent's header could carry a
// credential to the upstream: a known name in any folded spelling, the
// route's own header, or a name that says it is a key, token or secret.
func credentialHeader(name string, a *policy.Auth) bool {
	f := foldHeader(name)
	if credentialHeaders[f] || a.Header != "" && f == foldHeader(a.Header) {
		return true
	}
	for _, w := range []string{"api-key", "apikey", "auth-token", "access-token", "private-token", "secret", "password"} {
		if strings.Contains(f, w) {
			return true
		}
	}
	return false
}

// credentialQueryNames are query parameters stripped on a query route.
var credentialQueryNames = map[string]bool{
	"key": true, "api_key": true, "apikey": true, "access_token": true, "token": true,
	"auth": true, "auth_token": true, "private_token": true, "client_secret": true,
	"secret": true, "password": true, "sig": true, "signature": true,
}

// foldQuery is a raw parameter name as servers that fold them read it:
// unescaped, lower case, - as _, no [] suffix; ok false when it cannot be
// unescaped.
func foldQuery(raw string) (string, bool) {
	name, err := url.QueryUnescape(raw)
	return strings.TrimSuffix(strings.ToLower(strings.ReplaceAll(strings.TrimSpace(name), "-", "_")), "[]"), err == nil
}

// credentialQuery reports whether a query parameter name (still escaped)
// could carry a credential.
func credentialQuery(raw string, a *policy.Auth) bool {
	name, ok := foldQuery(raw)
	if !ok || credentialQueryNames[name] || ownQuery(raw, a) {
		return true // what cannot be read is dropped
	}
	return strings.Contains(name, "token") || strings.Contains(name, "api_key") || strings.Contains(name, "apikey") ||
		strings.Contains(name, "secret") || strings.HasSuffix(name, "_key")
}

// ownQuery reports whether a raw parameter name is the route's query
// placement, in any spelling a server may fold into it.
func ownQuery(raw string, a *policy.Auth) bool {
	if a.Query == "" {
		return false
	}
	name, ok := foldQuery(raw)
	own, _ := foldQuery(a.Query)
	return !ok || name == own
}

// stripQuery drops every credential-named parameter from a raw query,
// keeping the rest in order and as sent. A piece with a ';' is judged by
// each of its parts: some servers split on ';' too. A parameter holding
// the route's sentinel is the agent's tool using it, and is kept to be
// swapped, unless it is the route's own query placement (set afresh).
func stripQuery(raw string, a *policy.Auth, sentinel string) string {
	if raw == "" {
		return ""
	}
	var kept []string
	for _, piece := range strings.Split(raw, "&") {
		drop := false
		for _, part := range strings.Split(piece, ";") {
			name, _, _ := strings.Cut(part, "=")
			swapped := sentinel != "" && strings.Contains(part, sentinel) && !ownQuery(name, a)
			if credentialQuery(name, a) && !swapped {
				drop = true
			}
		}
		if !drop && piece != "" {
			kept = append(kept, piece)
		}
	}
	return strings.Join(kept, "&")
}

// injectAuth strips the agent's own credentials from out and puts the
// route's value where the route says, and in place of the route's
// sentinel in the request line and headers. value is the real token; it
// is only ever placed on https requests (the policy refuses auth over
// http). A header holding the sentinel is the agent's tool using it, and
// is kept to be swapped.
func injectAuth(out *http.Request, a *policy.Auth, value, sentinel string, https bool) {
	stripCredentials(out, a, sentinel)
	if !https {
		return
	}
	if sentinel != "" {
		swapSentinel(out, sentinel, value)
	}
	switch a.Placement {
	case manifest.PlaceScheme:
		out.Header.Set("Authorization", a.Scheme+" "+value)
	case manifest.PlaceHeader:
		out.Header.Set(a.Header, value)
	case manifest.PlaceBasic:
		out.Header.Set("Authorization", "Basic "+basicCredential(a.BasicUser, value))
	case manifest.PlaceQuery:
		q := url.QueryEscape(a.Query) + "=" + url.QueryEscape(value)
		if out.URL.RawQuery != "" {
			q = out.URL.RawQuery + "&" + q
		}
		out.URL.RawQuery = q
	}
}

// stripCredentials drops the agent's own credentials from out: every
// credential-looking header in any folded spelling, cookies, and
// credential-named query parameters, except what holds the route's
// sentinel (kept to be swapped).
func stripCredentials(out *http.Request, a *policy.Auth, sentinel string) {
	for k, vs := range out.Header {
		if credentialHeader(k, a) && !(sentinel != "" && slices.ContainsFunc(vs, func(v string) bool { return holdsSentinel(v, sentinel) })) {
			delete(out.Header, k)
		}
	}
	out.URL.RawQuery = stripQuery(out.URL.RawQuery, a, sentinel)
}

// tokenHost reports whether some route injects a token on host. A request
// to such a host on a route without auth still loses the agent's own
// credentials: the agent's only legitimate one there is a placeholder,
// so anything else (an attacker's key) would authenticate it as someone
// else on a host the operator allowed for their own account.
func tokenHost(pol *policy.Policy, host string) bool {
	return slices.ContainsFunc(pol.Routes, func(r *policy.Route) bool { return r.Auth != nil && r.Host == host })
}

// swapSentinel puts value wherever the sentinel is in the request line and
// headers. Sentinels are letters and digits: escaping never hides one.
func swapSentinel(out *http.Request, sentinel, value string) {
	for _, vs := range out.Header {
		for i, v := range vs {
			vs[i] = swapBasic(strings.ReplaceAll(v, sentinel, value), sentinel, value)
		}
	}
	u := out.URL
	u.Path = strings.ReplaceAll(u.Path, sentinel, value)
	if u.RawPath != "" {
		u.RawPath = strings.ReplaceAll(u.RawPath, sentinel, url.PathEscape(value))
	}
	u.RawQuery = strings.ReplaceAll(u.RawQuery, sentinel, url.QueryEscape(value))
}

// swapBasic swaps the sentinel inside a Basic credential, where tools
// put it from a URL's user:password (pip's index URL): Base64 hides it
// from a plain replace.
func swapBasic(v, sentinel, value string) string {
	scheme, raw, ok := basicRaw(v)
	if !ok || !strings.Contains(raw, sentinel) {
		return v
	}
	return scheme + " " + base64.StdEncoding.EncodeToString([]byte(strings.ReplaceAll(raw, sentinel, value)))
}

// basicRaw decodes a "Basic <base64>" header value.
func basicRaw(v string) (scheme, raw string, ok bool) {
	scheme, cred, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	return scheme, string(b), err == nil
}

// holdsSentinel reports whether a header value carries the sentinel, as
// is or inside a Basic credential.
func holdsSentinel(v, sentinel string) bool {
	if strings.Contains(v, sentinel) {
		return true
	}
	_, raw, ok := basicRaw(v)
	return ok && strings.Contains(raw, sentinel)
}

func basicCredential(user, value string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + value))
}

// sentForms are the values the request carried to the upstream: the
// token, and for Basic the credential it is inside. The token-echo guard
// looks for each in every encoding it knows (echo.go's tokenForms: the
// query escapes, and Base64 at any alignment for the form an agent's tool
// chose around a sentinel).
func sentForms(a *policy.Auth, value string) []string {
	if value == "" {
		return nil
	}
	if a.Placement == manifest.PlaceBasic {
		return []string{value, a.BasicUser + ":" + value}
	}
	return []string{value}
}
