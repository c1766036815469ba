package sidecar

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bot-bottle/bot-bottle/internal/ca"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// stateRoot lays out a sidecar state root like the bottle's mounts.
func stateRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"logs", "egress", "queue", "ssh", "ca", "config"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// listening finds the address a daemon logged in logs/<name>.jsonl.
func listening(t *testing.T, root, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "logs", name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(l), &line) == nil && strings.HasSuffix(line.Msg, "listening") {
			return line.Addr
		}
	}
	t.Fatalf("no listening line in %s.jsonl: %s", name, data)
	return ""
}

// runReady runs a bundle of the built-in daemons until the test ends.
func runReady(t *testing.T, cfg Config) {
	t.Helper()
	daemons, err := Builtin().Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &testenv.LockedBuffer{}
	marker := filepath.Join(cfg.Root, "logs", ReadyFile)
	wait := runBundle(ctx, &Bundle{Daemons: daemons, ReadyPath: marker, Stdout: stdout})
	t.Cleanup(func() {
		cancel()
		if err := wait(); err != nil {
			t.Errorf("bundle: %v", err)
		}
	})
	if _, err := WaitReady(context.Background(), marker, nil, 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func TestSuperviseRunsInTheBundle(t *testing.T) {
	root := stateRoot(t)
	if err := os.WriteFile(filepath.Join(root, "egress", "policy.yaml"), []byte("egress:\n  routes:\n    - host: pypi.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runReady(t, Config{
		Root: root,
		Settings: Settings{Daemons: []string{DaemonSupervise, DaemonDNS}, Slug: "impl-k3x9q",
			QueueDir: filepath.Join(root, "queue"), SupervisePort: plan.SupervisePort},
		Listen: map[string]string{DaemonSupervise: "127.0.0.1:0", DaemonDNS: "127.0.0.1:0"},
	})
	addr := listening(t, root, DaemonSupervise)

	ctx := context.Background()
	c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/", MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "list-egress-routes", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "pypi.org") {
		t.Errorf("list-egress-routes through the sidecar: %+v", res.Content)
	}
}

func TestGitGateRunsInTheBundle(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	root := stateRoot(t)
	key := filepath.Join(root, "ssh", "app.key")
	if err := os.WriteFile(key, []byte("not used: the gate does not dial until a fetch\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runReady(t, Config{
		Root:    root,
		DataDir: t.TempDir(),
		File: plan.SidecarConfig{Repos: []plan.SidecarRepo{{
			Name: "app", URL: "ssh://git@127.0.0.1:2222/srv/app.git",
			HostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", KeyFile: key,
		}}},
		Settings: Settings{Daemons: []string{DaemonDNS, DaemonGitGate}, Slug: "impl-k3x9q",
			QueueDir: filepath.Join(root, "queue"), GitleaksAllowTimeout: time.Minute},
		Listen:     map[string]string{DaemonDNS: "127.0.0.1:0", DaemonGitGate: "127.0.0.1:0"},
		Executable: "/bin/false",
	})
	addr := listening(t, root, DaemonGitGate)
	resp, err := http.Get("http://" + addr + "/nope.git/info/refs?service=git-upload-pack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an undeclared repo answered %d, want 404", resp.StatusCode)
	}
}

func TestGitGateBadRepoFailsAtBuild(t *testing.T) {
	root := stateRoot(t)
	_, err := Builtin().Build(Config{
		Root: root, DataDir: t.TempDir(), Executable: "/bin/false",
		File:     plan.SidecarConfig{Repos: []plan.SidecarRepo{{Name: "app", URL: "https://example.com/app.git"}}},
		Settings: Settings{Daemons: []string{DaemonGitGate}, Slug: "impl-k3x9q"},
		Listen:   map[string]string{DaemonGitGate: "127.0.0.1:0"},
	})
	if err == nil || !strings.Contains(err.Error(), "repo app") {
		t.Fatalf("error %v, want one about repo app", err)
	}
}

func TestEgressRunsInTheBundle(t *testing.T) {
	var gotAuth atomicString
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth.Store(r.Header.Get("Authorization"))
		io.WriteString(w, "hello from upstream")
	}))
	defer up.Close()
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())

	root := stateRoot(t)
	// The host makes the bottle CA before the sidecar starts.
	if _, err := ca.LoadOrCreate(filepath.Join(root, "ca")); err != nil {
		t.Fatal(err)
	}
	// The test's "internet" has its own CA: trusted through ca/upstream.pem.
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(root, "ca", UpstreamCAFile), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	policy := "egress:\n  routes:\n    - host: 127.0.0.1" +
		"\n      auth: {scheme: Bearer, token_ref: UPSTREAM_TOKEN}\n      unsafe_allow_private: true\n"
	if err := os.WriteFile(filepath.Join(root, "egress", "policy.yaml"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	runReady(t, Config{
		Root: root,
		Settings: Settings{Daemons: []string{DaemonEgress, DaemonSupervise, DaemonDNS}, Slug: "impl-k3x9q",
			QueueDir: filepath.Join(root, "queue"), EgressTokenAllowTimeout: time.Minute},
		// egress on a fixed port, as in a bottle: supervise finds it there.
		Listen:           map[string]string{DaemonEgress: freeLoopbackAddr(t), DaemonSupervise: "127.0.0.1:0", DaemonDNS: "127.0.0.1:0"},
		EgressExtraPorts: []int{portNumber(t, port)},
		Getenv: func(k string) string {
			if k == "UPSTREAM_TOKEN" {
				return "s3cret-token"
			}
			return ""
		},
	})
	proxy, err := url.Parse("http://" + listening(t, root, DaemonEgress))
	if err != nil {
		t.Fatal(err)
	}
	bottleCA, err := os.ReadFile(filepath.Join(root, "ca", "ca.pem"))
	if err != nil {
		t.Fatalf("egress made no bottle CA: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bottleCA)
	agent := &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(proxy),
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}, Timeout: 10 * time.Second}

	resp, err := agent.Get("https://127.0.0.1:" + port + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hello from upstream" {
		t.Fatalf("allowed request: %d %q", resp.StatusCode, body)
	}
	if got := gotAuth.Load(); got != "Bearer s3cret-token" {
		t.Errorf("upstream saw Authorization %q, want the injected token", got)
	}

	// A host the policy does not name is refused.
	if resp, err := agent.Get("https://localhost:" + port + "/hello"); err == nil {
		resp.Body.Close()
		t.Errorf("an undeclared host answered %d", resp.StatusCode)
	}

	// supervise lists the live routes by asking the proxy beside it; the
	// token's value never appears.
	ctx := context.Background()
	c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + listening(t, root, DaemonSupervise) + "/", MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "list-egress-routes", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	text := res.Content[0].(*mcp.TextContent).Text
	if res.IsError || !strings.HasPrefix(text, "egress daemon") || !strings.Contains(text, "127.0.0.1") || strings.Contains(text, "s3cret-token") {
		t.Errorf("list-egress-routes: %s", text)
	}
}

// atomicString is a string the upstream handler and the test share.
type atomicString struct {
	mu sync.Mutex
	v  string
}

func (a *atomicString) Store(v string) { a.mu.Lock(); a.v = v; a.mu.Unlock() }
func (a *atomicString) Load() string   { a.mu.Lock(); defer a.mu.Unlock(); return a.v }

func TestEgressWithoutTheHostsCAFailsAtBuild(t *testing.T) {
	root := stateRoot(t)
	os.WriteFile(filepath.Join(root, "egress", "policy.yaml"), []byte("egress: {}\n"), 0o600)
	_, err := Builtin().Build(Config{
		Root:     root,
		Settings: Settings{Daemons: []string{DaemonEgress}, Slug: "impl-k3x9q"},
		Listen:   map[string]string{DaemonEgress: "127.0.0.1:0"},
	})
	if err == nil || !strings.Contains(err.Error(), "no bottle CA") {
		t.Fatalf("error %v, want no bottle CA", err)
	}
	if _, err := os.Stat(filepath.Join(root, "ca", ca.KeyFile)); err == nil {
		t.Error("the sidecar made a CA of its own")
	}
}

func portNumber(t *testing.T, port string) int {
	t.Helper()
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// freeLoopbackAddr is a loopback address no one listens on now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
