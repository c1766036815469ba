package egress

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/policy"
)

const upToken = "real-upstream-token-0123456789abcdef"

// authUpstream records what it received and, when asked, echoes every
// header and the raw query back (body or header) like a debugging API.
func authUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{seen: &seen{}}
	u.start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.seen.mu.Lock()
		u.seen.reqs = append(u.seen.reqs, r)
		u.seen.body = append(u.seen.body, b)
		u.seen.mu.Unlock()
		var all strings.Builder
		for k, vs := range r.Header {
			fmt.Fprintf(&all, "%s=%s;", k, strings.Join(vs, ","))
		}
		all.WriteString("query=" + r.URL.RawQuery)
		switch r.URL.Query().Get("echo") {
		case "header":
			w.Header().Set("X-Echo", all.String())
		case "body":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, all.String())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}), true)
	return u
}

func authPolicy(auth string) string {
	return "egress:\n  log: 2\n  routes:\n    - host: up.example.com\n      auth: " + auth + "\n      dlp: {outbound_on_match: block}\n"
}

// agentCreds are the credentials an agent holding an attacker's key would
// send, in the spellings servers fold into the real names.
var agentCreds = []string{
	"Authorization", "Bearer attacker-key", "X_Api_Key", "attacker-key", "Private_Token", "attacker-key",
	"Authorization_", "Bearer attacker-key", "X-Goog-Api-Key", "attacker-key", "Cookie", "session=attacker",
	"X-My-Service-Api-Key", "attacker-key",
}

func TestEveryPlacementReachesUpstreamExactly(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+upToken))
	cases := []struct {
		name, auth string
		check      func(r *http.Request) string
	}{
		{"scheme", "{token_ref: UP_TOKEN, scheme: token}", func(r *http.Request) string {
			return want(r.Header.Get("Authorization"), "token "+upToken)
		}},
		{"default scheme", "{token_ref: UP_TOKEN}", func(r *http.Request) string {
			return want(r.Header.Get("Authorization"), "Bearer "+upToken)
		}},
		{"header", "{token_ref: UP_TOKEN, header: x-api-key}", func(r *http.Request) string {
			return want(r.Header.Get("X-Api-Key"), upToken) + want(r.Header.Get("Authorization"), "")
		}},
		{"basic", "{token_ref: UP_TOKEN, basic_user: x-access-token}", func(r *http.Request) string {
			return want(r.Header.Get("Authorization"), basic)
		}},
		{"query", "{token_ref: UP_TOKEN, query: key}", func(r *http.Request) string {
			return want(r.URL.RawQuery, "page=2&key="+upToken) + want(r.Header.Get("Authorization"), "")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := authUpstream(t)
			p := startProxy(t, up, authPolicy(tc.auth), nil)
			u := "https://up.example.com:" + up.port + "/v1/x?page=2&key=attacker-key&api_key=attacker&access_token=attacker&Token=attacker"
			st, code, body, err := do(t, p.client(t), newReq(t, "GET", u, nil, agentCreds...))
			if err != nil || st != 200 {
				t.Fatalf("status %d code %q err %v body %s", st, code, err, body)
			}
			r, _ := up.seen.last(t)
			if msg := tc.check(r); msg != "" {
				t.Error(msg)
			}
			if tc.name != "query" {
				if msg := want(r.URL.RawQuery, "page=2"); msg != "" {
					t.Error("query: " + msg)
				}
			}
			for k, vs := range r.Header {
				for _, v := range vs {
					if strings.Contains(v, "attacker") {
						t.Errorf("the agent's credential reached the upstream: %s: %s", k, v)
					}
				}
			}
			if strings.Contains(r.URL.RawQuery, "attacker") {
				t.Errorf("the agent's query credential reached the upstream: %s", r.URL.RawQuery)
			}
			if logs := p.logText(); strings.Contains(logs, upToken) || strings.Contains(logs, base64.StdEncoding.EncodeToString([]byte("x-access-token:"+upToken))) {
				t.Error("the token reached the log")
			}
		})
	}
}

func want(got, exp string) string {
	if got != exp {
		return fmt.Sprintf("got %q, want %q; ", got, exp)
	}
	return ""
}

func TestTokenNeverEchoedInAnyForm(t *testing.T) {
	for _, auth := range []string{
		"{token_ref: UP_TOKEN, header: x-api-key}",
		"{token_ref: UP_TOKEN, basic_user: x-access-token}",
		"{token_ref: UP_TOKEN, query: key}",
	} {
		up := authUpstream(t)
		p := startProxy(t, up, authPolicy(auth), nil)
		for _, in := range []string{"body", "header"} {
			st, code, body, err := do(t, p.client(t), newReq(t, "GET", "https://up.example.com:"+up.port+"/v1/x?echo="+in, nil))
			b64 := base64.RawStdEncoding.EncodeToString([]byte("x-access-token:" + upToken))
			if err != nil || st != 403 || code != "token-echo" || strings.Contains(body, upToken) || strings.Contains(body, b64) {
				t.Errorf("%s, echoed in %s: %d %s %v\n%s", auth, in, st, code, err, body)
			}
		}
	}
}

// A query token with characters that are escaped on the wire is looked
// for as sent.
func TestSentFormsCoverEscapedQuery(t *testing.T) {
	u := &url.URL{RawQuery: "key=" + url.QueryEscape("a+b/c=d")}
	if !echoesToken([]byte(u.RawQuery), sentForms(&policy.Auth{Placement: manifest.PlaceQuery, Query: "key", TokenRef: "T"}, "a+b/c=d")...) {
		t.Errorf("no form of the token matches the query %q", u.RawQuery)
	}
}

func FuzzStripQuery(f *testing.F) {
	for _, s := range []string{"", "a=1&key=2", "x=1;key=2", "%6Bey=3", "api%5Fkey=4&page=1", "k[]=1&token[]=2", "%zz=1", "&&=&"} {
		f.Add(s)
	}
	a := &policy.Auth{Placement: manifest.PlaceQuery, Query: "key", TokenRef: "T"}
	f.Fuzz(func(t *testing.T, raw string) {
		out := stripQuery(raw, a, "")
		for _, piece := range strings.Split(out, "&") {
			for _, part := range strings.Split(piece, ";") {
				name, _, _ := strings.Cut(part, "=")
				if credentialQuery(name, a) {
					t.Fatalf("stripQuery(%q) kept credential %q", raw, name)
				}
			}
		}
		if v, err := url.ParseQuery(out); err == nil && v.Get("key") != "" {
			t.Fatalf("stripQuery(%q) kept key", raw)
		}
	})
}

func FuzzCredentialHeader(f *testing.F) {
	for _, s := range []string{"Authorization", "X_Api_Key", "authorization_", "-X-API-KEY-", "Cookie", "Accept"} {
		f.Add(s)
	}
	a := &policy.Auth{Placement: manifest.PlaceHeader, Header: "X-Service-Key", TokenRef: "T"}
	f.Fuzz(func(t *testing.T, name string) {
		folded := foldHeader(name)
		if (folded == "authorization" || folded == "x-api-key" || folded == "x-service-key" || folded == "cookie") && !credentialHeader(name, a) {
			t.Fatalf("%q folds to %q but is not stripped", name, folded)
		}
	})
}

const testSentinel = "bbsentinel0123456789abcdefghijklmnop"

func withSentinel(c *Config) {
	get := c.Getenv
	c.Getenv = func(k string) string {
		if k == SentinelEnvPrefix+"NPM_TOKEN" {
			return testSentinel
		}
		return get(k)
	}
}

const sentinelPolicy = `egress:
  log: 2
  routes:
    - host: up.example.com
      auth: {token_ref: UP_TOKEN, placeholder: NPM_TOKEN, placeholder_in_body: true}
      dlp: {outbound_on_match: block}
    - host: other.example.com
`

func TestSentinelSwappedForItsHostOnly(t *testing.T) {
	up := authUpstream(t)
	p := startProxy(t, up, sentinelPolicy, withSentinel)
	c := p.client(t)
	st, code, body, err := do(t, c, newReq(t, "PUT", "https://up.example.com:"+up.port+"/pkg?access_token="+testSentinel+"&token=attacker", strings.NewReader(`{"token":"`+testSentinel+`"}`),
		"Authorization", "Bearer "+testSentinel, "X_Api_Key", "attacker-key"))
	if err != nil || st != 200 {
		t.Fatalf("status %d code %q err %v body %s", st, code, err, body)
	}
	r, b := up.seen.last(t)
	if msg := want(r.Header.Get("Authorization"), "Bearer "+upToken) + want(r.URL.RawQuery, "access_token="+upToken) + want(string(b), `{"token":"`+upToken+`"}`); msg != "" {
		t.Error(msg)
	}
	if r.Header.Get("X-Api-Key") != "" || r.Header.Get("X_Api_Key") != "" {
		t.Error("the agent's own key reached the upstream")
	}
	// The same sentinel to a host that does not swap it is a held secret.
	n := up.seen.count()
	for _, req := range []*http.Request{
		newReq(t, "GET", "https://other.example.com:"+up.port+"/x", nil, "Authorization", "Bearer "+testSentinel),
		newReq(t, "POST", "https://other.example.com:"+up.port+"/x", strings.NewReader("npm "+testSentinel)),
		newReq(t, "GET", "https://other.example.com:"+up.port+"/x?k="+testSentinel, nil),
	} {
		st, code, body, err := do(t, c, req)
		if err != nil || st != 403 || code != "dlp" || strings.Contains(body, upToken) {
			t.Errorf("sentinel to another host: %d %q %v %s", st, code, err, body)
		}
	}
	if up.seen.count() != n {
		t.Error("a sentinel reached a host that does not swap it")
	}
	if strings.Contains(p.logText(), upToken) {
		t.Error("the token reached the log")
	}
}

func TestPlaceholderWithoutSentinelFailsTheLoad(t *testing.T) {
	dir := t.TempDir()
	pol := dir + "/policy.yaml"
	writePolicy(t, pol, sentinelPolicy, "")
	_, err := New(Config{PolicyPath: pol, StateDir: dir + "/ca", Getenv: func(k string) string {
		if k == "UP_TOKEN" {
			return upToken
		}
		return ""
	}})
	if err == nil || !strings.Contains(err.Error(), SentinelEnvPrefix+"NPM_TOKEN") {
		t.Fatalf("New = %v, want a refusal naming the missing sentinel", err)
	}
}

// pip puts an index URL's user:password in a Basic header: the sentinel
// inside the Base64 is swapped too, and the swapped credential is never
// echoed back.
func TestSentinelInsideBasicSwappedAndNotEchoed(t *testing.T) {
	up := authUpstream(t)
	p := startProxy(t, up, sentinelPolicy, withSentinel)
	c := p.client(t)
	basic := func(v string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte("__token__:"+v)) }
	st, code, body, err := do(t, c, newReq(t, "GET", "https://up.example.com:"+up.port+"/simple/", nil, "Authorization", basic(testSentinel)))
	if err != nil || st != 200 {
		t.Fatalf("status %d code %q err %v body %s", st, code, err, body)
	}
	r, _ := up.seen.last(t)
	if msg := want(r.Header.Get("Authorization"), basic(upToken)); msg != "" {
		t.Error(msg)
	}
	for _, in := range []string{"body", "header"} {
		st, code, body, _ := do(t, c, newReq(t, "GET", "https://up.example.com:"+up.port+"/simple/?echo="+in, nil, "Authorization", basic(testSentinel)))
		if st != 403 || code != "token-echo" || strings.Contains(body, basic(upToken)[6:]) {
			t.Errorf("echoed in %s: %d %s %s", in, st, code, body)
		}
	}
}

func TestBase64CoresFoundAtEveryAlignment(t *testing.T) {
	for pre := range 5 {
		for post := range 4 {
			enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("u", pre) + upToken + strings.Repeat("x", post)))
			if !echoesToken([]byte(enc), upToken) {
				t.Errorf("prefix %d suffix %d: no core in %s", pre, post, enc)
			}
		}
	}
}

func FuzzSwapBasic(f *testing.F) {
	for _, s := range []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+testSentinel)), "basic !!", "Bearer x", "Basic", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		out := swapBasic(v, testSentinel, upToken)
		if holdsSentinel(out, testSentinel) && !strings.Contains(out, testSentinel) {
			t.Fatalf("swapBasic(%q) left the sentinel inside the credential: %q", v, out)
		}
	})
}

// TestGitOverHTTPSWithBasic: the real git client clones from a forge that
// wants HTTP Basic, through the proxy, holding no credential: the route's
// basic_user puts x-access-token:<token> in. Without the route's auth the
// forge says 401 and the clone fails.
func TestGitOverHTTPSWithBasic(t *testing.T) {
	root, git := gitRepo(t)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+upToken))
	up := gitUpstreamAuth(t, root, basic)
	url := "https://up.example.com:" + up.port + "/repo.git"
	for _, tc := range []struct {
		name, route string
		ok          bool
	}{
		{"basic", "      auth: {token_ref: UP_TOKEN, basic_user: x-access-token}\n", true},
		{"no auth", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, up, "egress:\n  routes:\n    - host: up.example.com\n      git: {fetch: true}\n"+tc.route, nil)
			dest := filepath.Join(t.TempDir(), "clone")
			out, err := git(t.TempDir(), "-c", "http.proxy="+p.url.String(), "-c", "http.sslCAInfo="+p.caFile(t), "clone", "-q", url, dest)
			if tc.ok != (err == nil) {
				t.Fatalf("clone: ok=%v, want %v\n%s", err == nil, tc.ok, out)
			}
			if !tc.ok && !strings.Contains(out, "401") && !strings.Contains(out, "Authentication failed") && !strings.Contains(out, "could not read Username") {
				t.Errorf("the forge's refusal is not what git shows:\n%s", out)
			}
			if strings.Contains(out, upToken) || strings.Contains(p.logText(), upToken) || strings.Contains(p.logText(), basic[6:]) {
				t.Error("the token reached git's output or the log")
			}
		})
	}
}

// egress check on a policy with a placeholder route, on the host (no
// sidecar env, so no sentinel): it still decides, while the proxy itself
// refuses to load without the real one
// (TestPlaceholderWithoutSentinelFailsTheLoad).
func TestCheckPlaceholderPolicyWithoutSidecarEnv(t *testing.T) {
	pol := t.TempDir() + "/policy.yaml"
	writePolicy(t, pol, sentinelPolicy, "443")
	for path, allow := range map[string]bool{"https://up.example.com/pkg": true, "https://nowhere.example.com/": false} {
		u, _ := url.Parse(path)
		res, err := Check(pol, nil, func(string) string { return "" }, "GET", u, nil, nil)
		if err != nil || res.Allow != allow {
			t.Errorf("%s: %+v %v, want allow=%v", path, res, err, allow)
		}
	}
}

// TestRedTeamAttackerKeyOnAnAuthlessRouteToATokenHost: a host the sidecar
// injects a token on, reached through a second route without auth (one an
// operator approved, say). The agent's own credentials (an attacker's key)
// are stripped there too, or they would authenticate it as the attacker on
// a host allowed for the operator's account. A host with no token route
// keeps what the agent sends: those are the agent's own business.
func TestRedTeamAttackerKeyOnAnAuthlessRouteToATokenHost(t *testing.T) {
	up := authUpstream(t)
	p := startProxy(t, up, `egress:
  routes:
    - host: up.example.com
      auth: {token_ref: UP_TOKEN, header: x-api-key}
      matches: [{paths: [{value: /v1/}]}]
    - host: up.example.com
      matches: [{paths: [{value: /public/}]}]
    - host: other.example.com
`, nil)
	c := p.client(t)
	st, code, body, err := do(t, c, newReq(t, "GET", "https://up.example.com:"+up.port+"/public/x?api_key=attacker&page=2", nil, agentCreds...))
	if err != nil || st != 200 {
		t.Fatalf("status %d code %q err %v body %s", st, code, err, body)
	}
	r, _ := up.seen.last(t)
	for k, vs := range r.Header {
		if strings.Contains(strings.Join(vs, ","), "attacker") {
			t.Errorf("the agent's credential reached a token host on an auth-less route: %s: %v", k, vs)
		}
	}
	if msg := want(r.URL.RawQuery, "page=2"); msg != "" {
		t.Error("query: " + msg)
	}
	if r.Header.Get("X-Api-Key") != "" {
		t.Error("the token was injected on a route without auth")
	}
	st, _, _, err = do(t, c, newReq(t, "GET", "https://other.example.com:"+up.port+"/x", nil, "Authorization", "Bearer agents-own"))
	if r, _ := up.seen.last(t); err != nil || st != 200 || r.Header.Get("Authorization") != "Bearer agents-own" {
		t.Errorf("a host without a token route: %d %v %q", st, err, r.Header.Get("Authorization"))
	}
}

// The request line is swapped too: a tool that puts its token in the path
// (some registries' /-/token/<t>/ forms) reaches the upstream with the
// real value there, and only there.
func TestSentinelInPathSwapped(t *testing.T) {
	up := authUpstream(t)
	p := startProxy(t, up, sentinelPolicy, withSentinel)
	st, code, body, err := do(t, p.client(t), newReq(t, "GET", "https://up.example.com:"+up.port+"/-/t/"+testSentinel+"/pkg", nil))
	if err != nil || st != 200 {
		t.Fatalf("status %d code %q err %v body %s", st, code, err, body)
	}
	r, _ := up.seen.last(t)
	if msg := want(r.URL.Path, "/-/t/"+upToken+"/pkg"); msg != "" {
		t.Error(msg)
	}
	if strings.Contains(p.logText(), upToken) {
		t.Error("the token reached the log")
	}
}
