package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bot-bottle/bot-bottle/internal/egress"
)

// loopbackResolver resolves every name to 127.0.0.1 (the test upstream).
type loopbackResolver struct{}

func (loopbackResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
}

// liveProxy is a real egress proxy on loopback for bottle slug under home:
// it reads the bottle's live policy.yaml and logs to its logs/egress.jsonl,
// as the sidecar does, and forwards allowed requests to an upstream that
// answers "upstream ok".
type liveProxy struct {
	t       *testing.T
	addr    string
	policy  string
	log     string
	client  *http.Client
	upPort  int
	started time.Time
}

func startLiveProxy(t *testing.T, home, slug, policy string, mods ...func(*egress.Config)) *liveProxy {
	t.Helper()
	state := filepath.Join(home, ".bot-bottle", "state", slug)
	p := &liveProxy{t: t, policy: filepath.Join(state, "egress", "policy.yaml"), log: filepath.Join(state, "logs", "egress.jsonl")}
	mustWrite(t, p.policy, policy)
	mustWrite(t, p.log, "")
	logFile, err := os.OpenFile(p.log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream ok") }))
	t.Cleanup(up.Close)
	p.upPort, _ = strconv.Atoi(up.URL[strings.LastIndex(up.URL, ":")+1:])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := egress.Config{
		Listener: ln, PolicyPath: p.policy, StateDir: filepath.Join(t.TempDir(), "ca"),
		UnsafeAllowPrivateRanges: true, ExtraPorts: []int{p.upPort},
		Logger:   slog.New(slog.NewJSONHandler(logFile, nil)),
		Resolver: loopbackResolver{}, PollInterval: 50 * time.Millisecond,
	}
	for _, m := range mods {
		m(&cfg)
	}
	srv, err := egress.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-srv.Ready()
	p.addr = srv.Addr().String()
	p.client = &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: p.addr})}}
	return p
}

// url is a plain-http URL of the upstream under host.
func (p *liveProxy) url(host, path string) string {
	return fmt.Sprintf("http://%s:%d%s", host, p.upPort, path)
}

// do sends one request through the proxy: status, refusal ID and body.
func (p *liveProxy) do(method, u string) (int, string, string) {
	p.t.Helper()
	return p.send(method, u, "")
}

// send is do with a request body.
func (p *liveProxy) send(method, u, body string) (int, string, string) {
	p.t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get(egress.RefusalIDHeader), string(b)
}

// allowlistShows waits until the proxy's live route table holds want: the
// proxy has loaded a policy the host rewrote, without spending a use.
func (p *liveProxy) allowlistShows(want string) string {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second) // bounds a broken run only
	for {
		_, _, table := p.do("GET", "http://_egress.local/allowlist")
		if strings.Contains(table, want) {
			return table
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the allowlist never showed %q:\n%s", want, table)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mcpSession connects a real MCP client to the supervise server at addr.
func mcpSession(ctx context.Context, t *testing.T, addr string) *mcp.ClientSession {
	t.Helper()
	mc := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	var cs *mcp.ClientSession
	var err error
	for range 100 {
		if cs, err = mc.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/", MaxRetries: -1}, nil); err == nil {
			t.Cleanup(func() { cs.Close() })
			return cs
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal(err)
	return nil
}

// callTool calls a tool that must not fail and returns its text.
func callTool(ctx context.Context, t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) string {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil || res.IsError {
		t.Fatalf("%s: %v %+v", name, err, res)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
