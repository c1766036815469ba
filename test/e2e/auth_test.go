package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/cli"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// authExtraRoutes are added to the claude starter for
// TestCredentialsInARunningBottle: every auth form on api.e2e.test, a
// wildcard (with auth-free access, for the sentinel to be refused on),
// and a git forge over HTTPS that wants Basic.
const authExtraRoutes = `    - host: api.e2e.test
      auth: {token_ref: E2E_TOKEN, header: x-api-key}
      matches: [{paths: [{value: /header/}]}]
      unsafe_allow_private: true
    - host: api.e2e.test
      auth: {token_ref: E2E_TOKEN, basic_user: x-access-token}
      matches: [{paths: [{value: /basic/}]}]
      unsafe_allow_private: true
    - host: api.e2e.test
      auth: {token_ref: E2E_TOKEN, query: key}
      matches: [{paths: [{value: /query/}]}]
      unsafe_allow_private: true
    - host: api.e2e.test
      auth: {token_ref: E2E_TOKEN, placeholder: E2E_SENTINEL}
      matches: [{paths: [{value: /sentinel/}]}]
      unsafe_allow_private: true
    - host: "*.wild.e2e.test"
      dlp: {outbound_on_match: block}
      unsafe_allow_private: true
    - host: forge.e2e.test
      auth: {token_ref: E2E_TOKEN, basic_user: x-access-token}
      git: {fetch: true}
      unsafe_allow_private: true
`

// authWorld is a running bottle planned by `start claude --dry-run` from
// the starter `init` writes (plus authExtraRoutes), with stand-ins for
// api.anthropic.com and the other hosts on a network of the test's own.
type authWorld struct {
	e      env
	p      *plan.Bottle
	home   string
	getenv func(string) string
	apiKey string
	token  string
}

func newAuthWorld(t *testing.T) *authWorld {
	t.Helper()
	e := setup(t)
	ctx := context.Background()
	w := &authWorld{e: e, home: t.TempDir(),
		apiKey: "sk-ant-api03-e2e-" + harness.Slug("key"), token: "e2e-token-" + harness.Slug("t")}
	w.getenv = func(k string) string {
		return map[string]string{"ANTHROPIC_API_KEY": w.apiKey, "E2E_TOKEN": w.token}[k]
	}
	netName := "bot-bottle-test-" + harness.Slug("auth")
	if _, err := e.eng.NetworkCreate(ctx, netName, client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{"bot-bottle.test": "1"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.eng.NetworkRemove(context.Background(), netName, client.NetworkRemoveOptions{}) })
	testCA := harness.NewTestCA(t)
	// api.anthropic.com is the fixture on this network: the sidecar
	// resolves the alias, so nothing leaves the machine.
	for _, h := range []string{"api.anthropic.com", "api.e2e.test", "wild.e2e.test", "a.wild.e2e.test", "a.b.wild.e2e.test"} {
		harness.HTTPSServer(t, e.eng, testCA, netName, h)
	}
	harness.GitHTTPSServer(t, e.eng, testCA, netName, "forge.e2e.test", sha256Hex("Basic "+base64.StdEncoding.EncodeToString([]byte("x-access-token:"+w.token))))

	if out, code := runCLIEnv(t, w.home, w.getenv, "init"); code != 0 {
		t.Fatalf("init: %d %s", code, out)
	}
	// The stand-ins have private addresses: the starter's route says it
	// may reach one, and the extra routes go at the end of its list.
	file := filepath.Join(w.home, ".bot-bottle", "bottles", "claude.md")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "    - host: api.anthropic.com\n", "    - host: api.anthropic.com\n      unsafe_allow_private: true\n", 1)
	end := strings.Index(s[4:], "\n---\n") + 5
	if end < 5 || !strings.Contains(s, "unsafe_allow_private") {
		t.Fatalf("the starter changed shape:\n%s", b)
	}
	writeFile(t, file, s[:end]+authExtraRoutes+s[end:])

	// The plan start would launch, as start --dry-run prints it.
	out, errOut, code := runCLISplit(t, w.home, w.getenv, "start", "claude", "--dry-run", "--format", "json")
	if code != 0 || errOut != "" {
		t.Fatalf("start claude --dry-run: %d\n%s%s", code, out, errOut)
	}
	w.p = &plan.Bottle{}
	if err := json.Unmarshal([]byte(out), w.p); err != nil {
		t.Fatalf("dry run is not a plan: %v\n%s", err, out)
	}
	// This machine cannot build the claude image (no npm): the agent is
	// the shell image, with curl and git as its clients. The sidecar runs
	// the claude plan's policy unchanged.
	w.p.Provider.Template, w.p.Images.Agent = "shell", "bot-bottle/agent-shell:latest"
	w.p.Mounts = append(w.p.Mounts, plan.Mount{Container: backend.RoleSidecar, Source: testCA.Dir, Target: "/run/e2e-ca", ReadOnly: true})
	w.p.SidecarEnv["SSL_CERT_FILE"] = "/run/e2e-ca/ca.pem"
	if err := lifecycle.Prepare(w.p, makeCA); err != nil {
		t.Fatal(err)
	}
	harness.Launch(t, e.be, *w.p, backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid(), Getenv: w.getenv})
	if _, err := e.eng.NetworkConnect(ctx, netName, client.NetworkConnectOptions{Container: "bot-bottle-" + w.p.Slug + "-sidecar"}); err != nil {
		t.Fatal(err)
	}
	return w
}

func sha256Hex(v string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(v))) }

// runCLIEnv runs bot-bottle args with home as HOME and getenv as the
// environment (for the names in authEnvNames), and returns its stdout and
// stderr together unless stdoutOnly.
func runCLIEnv(t *testing.T, home string, getenv func(string) string, args ...string) (string, int) {
	t.Helper()
	out, errOut, code := runCLISplit(t, home, getenv, args...)
	return out + errOut, code
}

// authEnvNames are the variables a test's getenv may set.
var authEnvNames = []string{"ANTHROPIC_API_KEY", "E2E_TOKEN"}

func runCLISplit(t *testing.T, home string, getenv func(string) string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	environ := func() []string {
		var kv []string
		for _, k := range authEnvNames {
			if v := getenv(k); v != "" {
				kv = append(kv, k+"="+v)
			}
		}
		return kv
	}
	code := cli.Run(context.Background(), args, cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		Getenv: getenv, Environ: environ, Home: home, Cwd: home,
	})
	return out.String(), errOut.String(), code
}

// TestCredentialsInARunningBottle (issue 12): the claude starter with an
// API key sends it as x-api-key and its POST /v1/messages narrowing holds
// in the running sidecar, exactly as egress check --bottle says; git over
// HTTPS gets Basic; a sentinel is refused on a host that does not swap
// it; an upstream that echoes any form of the token is refused; a
// wildcard matches one or more labels but not the bare name; and the
// agent never holds a real value.
func TestCredentialsInARunningBottle(t *testing.T) {
	w := newAuthWorld(t)
	be, slug := w.e.be, w.p.Slug

	t.Run("DryRunShowsTheInjection", func(t *testing.T) {
		out, code := runCLIEnv(t, w.home, w.getenv, "start", "claude", "--dry-run")
		if code != 0 || !strings.Contains(out, "api.anthropic.com, auth x-api-key: $ANTHROPIC_API_KEY, match POST prefix /v1/messages") || strings.Contains(out, w.apiKey) {
			t.Errorf("API key: %d\n%s", code, out)
		}
		oauth := func(k string) string {
			if k == "ANTHROPIC_API_KEY" {
				return "sk-ant-oat01-e2e-value"
			}
			return w.getenv(k)
		}
		out, code = runCLIEnv(t, w.home, oauth, "start", "claude", "--dry-run")
		if code != 0 || !strings.Contains(out, "api.anthropic.com, auth Authorization: Bearer $ANTHROPIC_API_KEY, match POST prefix /v1/messages") || strings.Contains(out, "e2e-value") {
			t.Errorf("OAuth token: %d\n%s", code, out)
		}
	})

	t.Run("ClaudeAPIKeyAsXAPIKey", func(t *testing.T) {
		r := harness.Sh(t, be, slug, `curl -sS --max-time 20 -X POST -H "x-api-key: $ANTHROPIC_API_KEY" -H 'Authorization: Bearer attacker-key' -d '{}' https://api.anthropic.com/v1/messages`)
		want := `"x_api_key_sha256":"` + sha256Hex(w.apiKey) + `"`
		if r.Code != 0 || !strings.Contains(r.Stdout, want) || !strings.Contains(r.Stdout, `"authorization_sha256":""`) || strings.Contains(r.Stdout, w.apiKey) {
			t.Errorf("want the API key in x-api-key and no Authorization: %s", r)
		}
	})

	// egress check --bottle claude and the running bottle agree, request
	// by request.
	t.Run("EgressCheckAgreesWithTheBottle", func(t *testing.T) {
		for _, tc := range []struct {
			method, url string
			allow       bool
		}{
			{"DELETE", "https://api.anthropic.com/v1/files/x", false},
			{"GET", "https://api.anthropic.com/v1/models", false},
			{"POST", "https://api.anthropic.com/v1/messages", true},
			{"GET", "https://a.b.wild.e2e.test/w", true},
			{"GET", "https://wild.e2e.test/w", false},
			{"GET", "https://api.e2e.test/header/x", true},
			{"GET", "https://api.e2e.test/elsewhere", false},
			{"GET", "https://forge.e2e.test/project.git/info/refs?service=git-upload-pack", true},
		} {
			out, code := runCLIEnv(t, w.home, w.getenv, "egress", "check", "--bottle", "claude", "-X", tc.method, tc.url)
			if checkAllows := code == 0; checkAllows != tc.allow || code > 1 {
				t.Errorf("egress check --bottle claude -X %s %s: exit %d, want allow=%v\n%s", tc.method, tc.url, code, tc.allow, out)
			}
			r := harness.Sh(t, be, slug, "curl -sS --max-time 20 -o /dev/null -w '%{http_connect} %{http_code}' -X "+tc.method+" '"+tc.url+"' 2>/dev/null; true")
			got := strings.Fields(r.Stdout)
			bottleAllows := len(got) == 2 && got[1] == "200"
			refused := len(got) == 2 && (got[0] == "403" || got[1] == "403")
			if bottleAllows != tc.allow || !tc.allow && !refused {
				t.Errorf("the running bottle, %s %s: %q, want allow=%v", tc.method, tc.url, r.Stdout, tc.allow)
			}
		}
	})

	t.Run("GitOverHTTPSWithBasic", func(t *testing.T) {
		r := harness.Sh(t, be, slug, "cd /tmp && git clone -q https://forge.e2e.test/project.git forge 2>&1 && cat forge/README && git -C forge config --get-regexp 'credential|extraheader|url' ; true")
		if !strings.Contains(r.Stdout, "upstream") || strings.Contains(r.Stdout, w.token) {
			t.Errorf("git clone over HTTPS with Basic injected: %s", r)
		}
	})

	t.Run("SentinelRefusedOnAnotherHost", func(t *testing.T) {
		for _, cmd := range []string{
			`-H "Authorization: Bearer $E2E_SENTINEL" https://a.wild.e2e.test/s`,
			`"https://a.wild.e2e.test/s?k=$E2E_SENTINEL"`,
			`-d "npm $E2E_SENTINEL" https://a.wild.e2e.test/s`,
		} {
			r := harness.Sh(t, be, slug, `curl -sS --max-time 20 -o /dev/null -D - `+cmd+` 2>&1`)
			if !strings.Contains(r.Stdout, " 403") || !strings.Contains(strings.ToLower(r.Stdout), "x-bot-bottle-refusal: dlp") {
				t.Errorf("sentinel to a.wild.e2e.test (%s): %s", cmd, r)
			}
		}
		// The same host answers without the sentinel, and the sentinel's
		// own route swaps it.
		r := harness.Sh(t, be, slug, `curl -sS --max-time 20 -o /dev/null -w '%{http_code}' https://a.wild.e2e.test/s; echo; curl -sS --max-time 20 -H "Authorization: Bearer $E2E_SENTINEL" https://api.e2e.test/sentinel/x`)
		if !strings.HasPrefix(r.Stdout, "200") || !strings.Contains(r.Stdout, `"authorization_sha256":"`+sha256Hex("Bearer "+w.token)+`"`) {
			t.Errorf("without the sentinel, or on its route: %s", r)
		}
	})

	t.Run("TokenEchoRefusedInEveryForm", func(t *testing.T) {
		b64 := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + w.token))
		for _, cmd := range []string{
			`'https://api.e2e.test/header/x?raw=1'`,
			`'https://api.e2e.test/basic/x?raw=1'`,
			`'https://api.e2e.test/query/x?raw=1'`,
			`-H "Authorization: Bearer $E2E_SENTINEL" 'https://api.e2e.test/sentinel/x?raw=1'`,
		} {
			r := harness.Sh(t, be, slug, `curl -sS --max-time 20 -D - `+cmd+` 2>&1`)
			if !strings.Contains(strings.ToLower(r.Stdout), "x-bot-bottle-refusal: token-echo") || strings.Contains(r.Stdout, w.token) || strings.Contains(r.Stdout, b64[:20]) {
				t.Errorf("an upstream echoing the token (%s): %s", cmd, r)
			}
		}
	})

	t.Run("WildcardLabels", func(t *testing.T) {
		for url, want := range map[string]string{
			"https://a.wild.e2e.test/w": "200", "https://a.b.wild.e2e.test/w": "200", "https://wild.e2e.test/w": "403",
		} {
			r := harness.Sh(t, be, slug, "curl -sS --max-time 20 -o /dev/null -w '%{http_connect} %{http_code}' "+url+" 2>/dev/null; true")
			if !strings.Contains(r.Stdout, want) || want == "403" && strings.Contains(r.Stdout, "200") {
				t.Errorf("%s: want %s, got %s", url, want, r)
			}
		}
	})

	t.Run("AgentNeverHoldsAValue", func(t *testing.T) {
		r := harness.Sh(t, be, slug, "printenv; grep -rlsF -e '"+w.token+"' -e '"+w.apiKey+"' --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev / ; echo scanned")
		// grep -l prints only the names of files holding a value.
		if lines := strings.Split(strings.TrimSpace(r.Stdout), "\n"); strings.Contains(r.Stdout, w.token) || strings.Contains(r.Stdout, w.apiKey) ||
			strings.Contains(r.Stdout, "\n/") || lines[len(lines)-1] != "scanned" {
			t.Errorf("the agent holds a real value (env or a file), or the scan failed:\n%s", r.Stdout)
		}
		if !strings.Contains(r.Stdout, "ANTHROPIC_API_KEY=sk-ant-api03-bot-bottle-placeholder") || !strings.Contains(r.Stdout, "E2E_SENTINEL=bbsentinel") {
			t.Errorf("the agent lacks its placeholder or sentinel:\n%s", r.Stdout)
		}
	})
}
