package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// A real proxy refuses a request; a real MCP client files egress-block
// with that refusal ID and with a made-up one. The operator's listing
// shows the proxy's record for the first and marks the second as the
// agent's claim.
func TestEgressBlockRefusalProvenance(t *testing.T) {
	home := t.TempDir()
	const slug = "impl-k3x9q"
	b := hoststate.New(home).Bottle(slug)
	os.MkdirAll(filepath.Dir(b.Policy()), 0o700)
	os.WriteFile(b.Policy(), []byte("egress:\n  routes:\n    - host: pypi.org\n"), 0o600)
	logPath := filepath.Join(home, "egress.jsonl")
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	proxyAddr := freeAddr(t)
	go Run(ctx, []string{"egress", "serve", "--policy", b.Policy(), "--listen", proxyAddr, "--state-dir", filepath.Join(home, "ca")}, egressEnv(home, logFile, nil))
	supAddr := freeAddr(t)
	var supLog lockedBuffer
	go Run(ctx, []string{"supervise", "serve", "--slug", slug, "--queue-dir", b.Queue(), "--listen", supAddr,
		"--policy", b.Policy(), "--egress-log", logPath, "--wait", "1s"}, egressEnv(home, &supLog, nil))

	// The agent's request, refused by the proxy.
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxyAddr})}}
	var resp *http.Response
	for range 100 {
		if resp, err = c.Get("http://api.example.com/v1/items?q=secret"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Bot-Bottle-Refusal-Id")
	if resp.StatusCode != 403 || id == "" {
		t.Fatalf("proxy answered %s, refusal ID %q", resp.Status, id)
	}

	cs := mcpSession(ctx, t, supAddr)
	file := func(args map[string]any) { t.Helper(); callTool(ctx, t, cs, "egress-block", args) }
	file(map[string]any{"refusal_id": id, "routes": "- host: api.example.com\n", "justification": "listing items"})
	file(map[string]any{"refusal_id": "rf-0123456789abcdef", "method": "GET", "url": "https://evil.example/x",
		"reason": "no-route", "routes": "- host: evil.example\n", "justification": "trust me"})

	var out strings.Builder
	if code := Run(ctx, []string{"supervise", "list", "--json"}, egressEnv(home, &out, nil)); code != ExitOK {
		t.Fatalf("supervise list: %d %s", code, out.String())
	}
	var items []pendingJSON
	if err := json.Unmarshal([]byte(out.String()), &items); err != nil || len(items) != 2 {
		t.Fatalf("list --json: %v %s", err, out.String())
	}
	byHost := map[string]pendingJSON{}
	for _, it := range items {
		byHost[strings.TrimPrefix(strings.TrimPrefix(it.Summary, "[not seen by the proxy — the agent's claim] "), "allow ")] = it
	}
	real, fake := byHost["api.example.com"], byHost["evil.example"]
	if real.Provenance != "proxy" || !strings.HasPrefix(real.Justification, "Proxy's record (refusal "+id+"): GET http://api.example.com/v1/items refused at ") ||
		!strings.Contains(real.Justification, "Proxy's reason (no-route)") || !strings.Contains(real.Justification, "The agent's words: listing items") {
		t.Errorf("the proxy's record is not shown:\n%+v", real)
	}
	if strings.Contains(real.Justification, "secret") {
		t.Errorf("the query string reached the operator's record: %q", real.Justification)
	}
	if fake.Provenance != "agent's claim" || !strings.HasPrefix(fake.Summary, "[not seen by the proxy — the agent's claim]") ||
		!strings.HasPrefix(fake.Justification, "Not seen by the proxy — the agent's claim (refusal ID rf-0123456789abcdef is not in this bottle's proxy log)") {
		t.Errorf("a made-up refusal is not marked as the agent's claim:\n%+v", fake)
	}
	var table strings.Builder
	Run(ctx, []string{"supervise", "list"}, egressEnv(home, &table, nil))
	if !strings.Contains(table.String(), "[not seen by the proxy — the agent's claim] allow evil.example") {
		t.Errorf("supervise list does not mark the agent's claim:\n%s", table.String())
	}
	refusalsInTmux(t, home, id)
}

// refusalsInTmux: the operator's terminal UI shows the same two proposals,
// the made-up one in red, and the real one's detail the proxy's record;
// approving it offers the scopes, the narrowest that fits by default.
func refusalsInTmux(t *testing.T, home, id string) {
	if testing.Short() {
		return
	}
	_, err := exec.LookPath("tmux")
	testenv.Require(t, "tmux", err == nil, "the refusal provenance UI test")
	bin := buildBinary(t)
	s := tmuxSession{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	// NO_COLOR, CLICOLOR=0 or a terminal guess in the caller's environment
	// would turn colour off; the test is about which line is red.
	cmdline := "env -u NO_COLOR -u CLICOLOR CLICOLOR_FORCE=1 HOME=" + home + " TERM=xterm-256color " + bin + " supervise --poll 100ms"
	if out, err := s.tmux("new-session", "-d", "-s", "bb", "-x", "140", "-y", "30", cmdline); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { s.tmux("kill-server") })
	s.waitFor("2 pending", "[not seen by the proxy — the agent's claim] allow evil.example", "allow api.example.com")
	colored, _ := s.tmux("capture-pane", "-e", "-p", "-t", "bb")
	red := false
	for _, l := range strings.Split(colored, "\n") {
		if strings.Contains(l, "allow evil.example") && strings.Contains(l, "31m") {
			red = true
		}
	}
	if !red {
		t.Errorf("the agent's claim is not red:\n%q", colored)
	}
	// Open the proven one: the proxy's record, with its refusal ID.
	for _, l := range strings.Split(s.screen(), "\n") {
		if strings.HasPrefix(l, ">") && strings.Contains(l, "evil.example") {
			s.send("Down")
		}
	}
	s.send("Enter")
	s.waitFor("Proxy's record (refusal "+id+")", "GET http://api.example.com/v1/items")
	// Approving offers the scopes; the default is the narrowest that fits
	// the proxy's record of the request.
	s.send("a")
	s.waitFor("Approve for how long?", "1  GET under /v1/ only, for 1 hour, this run only (default)", "4  for good")
	s.send("Enter")
	s.waitFor("approved egress-block from impl-k3x9q", "1 pending")
	live, _ := os.ReadFile(hoststate.New(home).Bottle("impl-k3x9q").Policy())
	for _, want := range []string{"host: api.example.com", "- GET", "value: /v1/", "session: true", "expires:"} {
		if !strings.Contains(string(live), want) {
			t.Errorf("the default scope is not in the live policy (%q):\n%s", want, live)
		}
	}
	s.send("q")
}

// A refusal ID from another bottle's proxy is not in this bottle's log:
// filed here, it is the agent's claim.
func TestRefusalIDFromAnotherBottleIsAClaim(t *testing.T) {
	home := t.TempDir()
	pxA := startLiveProxy(t, home, "impl-aaaaa", "egress:\n  routes: []\n")
	st, rid, _ := pxA.do("GET", pxA.url("api.example.com", "/v1/items"))
	if st != 403 || rid == "" {
		t.Fatalf("bottle A's proxy answered %d, refusal ID %q", st, rid)
	}
	pxB := startLiveProxy(t, home, "impl-bbbbb", "egress:\n  routes: []\n")
	pxB.do("GET", pxB.url("other.example", "/")) // B's log is not empty
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := hoststate.New(home).Bottle("impl-bbbbb")
	addr := freeAddr(t)
	var supLog lockedBuffer
	go Run(ctx, []string{"supervise", "serve", "--slug", "impl-bbbbb", "--queue-dir", b.Queue(), "--listen", addr,
		"--policy", b.Policy(), "--egress-log", pxB.log, "--wait", "1s"}, egressEnv(home, &supLog, nil))
	callTool(ctx, t, mcpSession(ctx, t, addr), "egress-block", map[string]any{"refusal_id": rid, "method": "GET",
		"url": "https://api.example.com/v1/items", "reason": "no-route", "routes": "- host: api.example.com\n", "justification": "j"})
	var items []pendingJSON
	if err := json.Unmarshal([]byte(cli(t, home, "supervise", "list", "--json")), &items); err != nil || len(items) != 1 {
		t.Fatalf("list --json: %v %+v", err, items)
	}
	if it := items[0]; it.Bottle != "impl-bbbbb" || it.Provenance != "agent's claim" ||
		!strings.Contains(it.Justification, "refusal ID "+rid+" is not in this bottle's proxy log") {
		t.Errorf("another bottle's refusal passes for this one's: %+v", it)
	}
}
