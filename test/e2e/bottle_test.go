package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/cli"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// world is a full bottle (every daemon) wired to a stand-in internet: an
// HTTPS echo server the bottle declares (api.e2e.test, with a token), one it
// does not (other.e2e.test), and an SSH git upstream (git.e2e.test).
type world struct {
	e     env
	p     *plan.Bottle
	home  string
	token string
	git   *harness.GitServer
}

func newWorld(t *testing.T) *world {
	t.Helper()
	e := setup(t)
	ctx := context.Background()
	home := t.TempDir()
	netName := "bot-bottle-test-" + harness.Slug("net")
	if _, err := e.eng.NetworkCreate(ctx, netName, client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{"bot-bottle.test": "1"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.eng.NetworkRemove(context.Background(), netName, client.NetworkRemoveOptions{}) })
	testCA := harness.NewTestCA(t)
	harness.HTTPSServer(t, e.eng, testCA, netName, "api.e2e.test")
	harness.HTTPSServer(t, e.eng, testCA, netName, "other.e2e.test")
	harness.HTTPSServer(t, e.eng, testCA, netName, "a.wild.e2e.test")
	harness.HTTPSServerOn(t, e.eng, testCA, netName, "ports.e2e.test", ":8443")
	gs := harness.NewGitServer(t, e.eng, netName, "git.e2e.test", "project")

	writeFile(t, filepath.Join(home, ".bot-bottle", "bottles", "e2e.md"), fmt.Sprintf(`---
egress:
  routes:
    - host: api.e2e.test
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
    - host: api.e2e.test
      matches: [{paths: [{value: /plain/}]}]
      dlp: {outbound_on_match: block}
      unsafe_allow_private: true
    - host: api.e2e.test
      auth: {scheme: Bearer, token_ref: E2E_TOKEN}
      unsafe_allow_private: true
    - host: "*.wild.e2e.test"
      unsafe_allow_private: true
    - host: ports.e2e.test
      ports: [8443]
      unsafe_allow_private: true
git-gate:
  user: {name: e2e, email: e2e@example.com}
  repos:
    project:
      url: %s
      host_key: %s
      key: {provider: static, path: %s}
---
The e2e bottle.
`, gs.URL, gs.HostKey, gs.KeyFile))
	writeFile(t, filepath.Join(home, ".bot-bottle", "agents", "e2e.md"), "---\nbottle: e2e\n---\nThe e2e agent.\n")
	res, err := manifest.Load(home, home).Resolve("e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Make(plan.Input{Resolved: res, EnvSet: map[string]bool{"E2E_TOKEN": true}, Slug: harness.Slug("e2e"), Rand: rand.Reader,
		StateRoot: filepath.Join(home, ".bot-bottle", "state")})
	if err != nil {
		t.Fatal(err)
	}
	// The sidecar trusts the stand-in internet's CA.
	p.Mounts = append(p.Mounts, plan.Mount{Container: backend.RoleSidecar, Source: testCA.Dir, Target: "/run/e2e-ca", ReadOnly: true})
	p.SidecarEnv["SSL_CERT_FILE"] = "/run/e2e-ca/ca.pem"
	if err := lifecycle.Prepare(p, makeCA); err != nil {
		t.Fatal(err)
	}
	// The sidecar runs as the test's user, like the operator commands the
	// test runs in-process (a sidecar as another uid could not read the
	// policy they rewrite; TestDNSOnlyThroughTheSidecar covers an
	// unprivileged sidecar).
	uid, gid := os.Getuid(), os.Getgid()
	token := "e2e-token-" + harness.Slug("t")
	harness.Launch(t, e.be, *p, backend.LaunchOptions{UID: uid, GID: gid, Getenv: func(k string) string {
		if k == "E2E_TOKEN" {
			return token
		}
		return ""
	}})
	if _, err := e.eng.NetworkConnect(ctx, netName, client.NetworkConnectOptions{Container: "bot-bottle-" + p.Slug + "-sidecar"}); err != nil {
		t.Fatal(err)
	}
	return &world{e: e, p: p, home: home, token: token, git: gs}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBottleEndToEnd: inside a running shell bottle, an allowed host
// answers through the proxy with the token injected while the agent never
// holds it, an undeclared host gets the 403 with its reason, a push with a
// secret is refused and a clean push lands upstream.
func TestBottleEndToEnd(t *testing.T) {
	w := newWorld(t)
	be, slug := w.e.be, w.p.Slug

	t.Run("TokenInjectedNeverSeen", func(t *testing.T) {
		r := harness.Sh(t, be, slug, "curl -sS --max-time 20 https://api.e2e.test/hello")
		want := fmt.Sprintf("%x", sha256.Sum256([]byte("Bearer "+w.token)))
		if r.Code != 0 || !strings.Contains(r.Stdout, `"authorization_sha256":"`+want+`"`) || !strings.Contains(r.Stdout, `"path":"/hello"`) {
			t.Errorf("the declared host did not get the token: %s", r)
		}
		r = harness.Sh(t, be, slug, "printenv; cat /etc/bot-bottle/current-config/* /etc/bot-bottle/ca/* 2>/dev/null")
		if strings.Contains(r.Stdout, w.token) {
			t.Errorf("the agent can read the token:\n%s", r.Stdout)
		}
	})

	t.Run("EveryAuthPlacement", func(t *testing.T) {
		sum := func(v string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(v))) }
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+w.token))
		for _, tc := range []struct{ name, cmd, want string }{
			{"header", `curl -sS --max-time 20 -H 'X_Api_Key: attacker-key' -H 'Authorization: Bearer attacker-key' https://api.e2e.test/header/x`, `"x_api_key_sha256":"` + sum(w.token) + `"`},
			{"basic", `curl -sS --max-time 20 -H 'Authorization_: Bearer attacker-key' https://api.e2e.test/basic/x`, `"authorization_sha256":"` + sum(basic) + `"`},
			{"query", `curl -sS --max-time 20 'https://api.e2e.test/query/x?key=attacker-key&api_key=attacker-key&page=2'`, `"query":"page=2","query_key_sha256":"` + sum(w.token) + `"`},
			{"sentinel", `curl -sS --max-time 20 -H "Authorization: Bearer $E2E_SENTINEL" https://api.e2e.test/sentinel/x`, `"authorization_sha256":"` + sum("Bearer "+w.token) + `"`},
		} {
			r := harness.Sh(t, be, slug, tc.cmd)
			if r.Code != 0 || !strings.Contains(r.Stdout, tc.want) || strings.Contains(r.Stdout, "attacker") || strings.Contains(r.Stdout, w.token) {
				t.Errorf("%s: want %s and no agent credential: %s", tc.name, tc.want, r)
			}
		}
		r := harness.Sh(t, be, slug, `printenv E2E_SENTINEL; curl -sS --max-time 20 -o /dev/null -w '%{http_code}' -H "X-Note: $E2E_SENTINEL" https://api.e2e.test/plain/x`)
		if !strings.HasPrefix(r.Stdout, "bbsentinel") || !strings.HasSuffix(strings.TrimSpace(r.Stdout), "403") {
			t.Errorf("the sentinel on a route that does not swap it: %s", r)
		}
	})

	t.Run("WildcardAndPorts", func(t *testing.T) {
		for _, tc := range []struct{ url, want string }{
			{"https://a.wild.e2e.test/w", "200"},
			{"https://wild.e2e.test/w", "403"},
			{"https://ports.e2e.test:8443/p", "200"},
			{"https://ports.e2e.test/p", "403"},
			{"https://ports.e2e.test:8444/p", "403"},
		} {
			// A refused CONNECT shows as http_connect 403 and no response.
			r := harness.Sh(t, be, slug, "curl -sS --max-time 20 -o /dev/null -w '%{http_connect} %{http_code}' "+tc.url+" 2>/dev/null; true")
			if !strings.Contains(r.Stdout, tc.want) || tc.want == "403" && strings.Contains(r.Stdout, "200") {
				t.Errorf("%s: want %s, got %s", tc.url, tc.want, r)
			}
		}
	})

	t.Run("UndeclaredHostRefused", func(t *testing.T) {
		r := harness.Sh(t, be, slug, "curl -sS --max-time 20 -o /dev/null -w '%{http_connect}' https://other.e2e.test/ 2>&1; curl -sS --max-time 20 -o /dev/null -D - -p https://other.e2e.test/ 2>&1 | head -5")
		if !strings.HasPrefix(r.Stdout, "403") && !strings.Contains(r.Stdout, "response 403") {
			t.Errorf("undeclared host: %s", r)
		}
		if !strings.Contains(strings.ToLower(r.Stdout), "other.e2e.test") {
			t.Errorf("the refusal does not say why (no host named): %s", r)
		}
	})

	t.Run("EgressAllowApprovedLive", func(t *testing.T) {
		// The agent files egress-allow through the supervise MCP server
		// (as an MCP client would: a JSON-RPC tools/call), in the
		// background: the call waits for the operator.
		before := harness.Sh(t, be, slug, "curl -sS --max-time 20 -o /dev/null -D - -p https://other.e2e.test/ 2>&1").Stdout
		if strings.Contains(strings.ToLower(before), "private") {
			t.Fatalf("before approval the refusal already names the address: %s", before)
		}
		call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"egress-allow","arguments":` +
			`{"routes":"- host: other.e2e.test\n","justification":"e2e: the tests need it"}}}`
		r := harness.Sh(t, be, slug, `(curl -sS --max-time 120 -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' `+
			`-H 'Mcp-Protocol-Version: 2025-06-18' -d '`+call+`' http://supervise:9100/mcp > /tmp/mcp.out 2>&1 &) ; echo filed`)
		if r.Code != 0 {
			t.Fatalf("filing: %s", r)
		}
		id := waitProposal(t, filepath.Join(w.p.StateDir, "supervise", "queue"))
		out, code := runCLI(t, w.home, "supervise", "approve", id)
		if code != 0 {
			t.Fatalf("supervise approve %s: exit %d\n%s", id, code, out)
		}
		// Approved and live without a restart: the route is in the proxy's
		// table, and the host is no longer refused for want of a route (a
		// route the agent proposes cannot allow private addresses, which
		// is all this stand-in internet has, so the refusal's reason now
		// names the address).
		var got string
		for i := 0; i < 50; i++ {
			got = harness.Sh(t, be, slug, "curl -sS --max-time 5 http://_egress.local/allowlist | grep -c '\"host\": \"other.e2e.test\"'; curl -sS --max-time 20 -o /dev/null -D - -p https://other.e2e.test/ 2>&1").Stdout
			if !strings.HasPrefix(got, "0") {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("before: %s\nafter: %s", before, got)
		if strings.HasPrefix(got, "0") || !strings.Contains(strings.ToLower(got), "private") {
			t.Errorf("after approval the host is still refused for want of a route:\n%s\nagent's tool call: %s", got,
				harness.Sh(t, be, slug, "cat /tmp/mcp.out").Stdout)
		}
	})

	t.Run("GitGate", func(t *testing.T) {
		clone := harness.Sh(t, be, slug, "cd /workspace && git clone -q "+w.git.URL+" project 2>&1 && cat project/README")
		if clone.Code != 0 || !strings.Contains(clone.Stdout, "upstream") {
			t.Fatalf("clone through git-gate: %s", clone)
		}
		secret := "ghp_" + strings.Repeat("aB3dE5fG7h", 4)[:36]
		r := harness.Sh(t, be, slug, `cd /workspace/project && echo "token = `+secret+`" > config.py && git add config.py && git commit -qm "add config" && git push -q origin HEAD:main 2>&1; echo rc=$?`)
		if strings.Contains(r.Stdout, "rc=0") || !strings.Contains(strings.ToLower(r.Stdout), "config.py") {
			t.Errorf("a push with a secret was not refused naming the file: %s", r)
		}
		if strings.Contains(r.Stdout, secret) {
			t.Errorf("the refusal echoes the secret: %s", r)
		}
		if log := w.git.Git(t, "log", "--format=%s", "main"); strings.Contains(log, "add config") {
			t.Errorf("the secret reached the upstream:\n%s", log)
		}
		r = harness.Sh(t, be, slug, `cd /workspace/project && git reset -q --hard origin/main && echo clean > notes.txt && git add notes.txt && git commit -qm "clean change" && git push -q origin HEAD:main 2>&1; echo rc=$?`)
		if !strings.Contains(r.Stdout, "rc=0") {
			t.Errorf("a clean push failed: %s", r)
		}
		if log := w.git.Git(t, "log", "--format=%s %an", "main"); !strings.Contains(log, "clean change e2e") {
			t.Errorf("the clean push did not land upstream:\n%s", log)
		}
	})
}

// waitProposal waits for one proposal in queue and returns its id.
func waitProposal(t *testing.T, queue string) string {
	t.Helper()
	for i := 0; i < 150; i++ {
		matches, _ := filepath.Glob(filepath.Join(queue, "*.proposal.json"))
		if len(matches) == 1 {
			return strings.TrimSuffix(filepath.Base(matches[0]), ".proposal.json")
		}
		time.Sleep(200 * time.Millisecond)
	}
	entries, _ := os.ReadDir(queue)
	t.Fatalf("no proposal in %s: %v", queue, entries)
	return ""
}

// runCLI runs bot-bottle args with home as HOME and returns its output.
func runCLI(t *testing.T, home string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := cli.Run(context.Background(), args, cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil },
		Home: home, Cwd: home,
	})
	return out.String(), code
}
