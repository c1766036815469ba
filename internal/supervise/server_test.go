package supervise

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

const slug = "impl-k3x9q"

const policy = "egress:\n  routes:\n    - host: api.github.com\n      auth: {scheme: Bearer, token_ref: GITHUB_TOKEN}\n"

type fixture struct {
	cfg   Config
	addr  string
	queue *queue.Queue
}

// start runs a real server on loopback until the test ends.
func start(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{
		Slug:       slug,
		QueueDir:   filepath.Join(dir, "queue"),
		PolicyPath: filepath.Join(dir, "policy.yaml"),
		Wait:       20 * time.Second,
		KeepAlive:  100 * time.Millisecond,
		Poll:       20 * time.Millisecond,
	}
	if err := os.WriteFile(cfg.PolicyPath, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(&cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{cfg: cfg, addr: ln.Addr().String(), queue: queue.New(cfg.QueueDir)}
	serve(t, cfg, ln)
	return f
}

// serve runs a server for cfg on ln and returns a function that stops it.
func serve(t *testing.T, cfg Config, ln net.Listener) (stop func()) {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

type clientOpts struct {
	// version is the protocol version to initialize with; "" is the SDK's
	// latest.
	version    string
	httpClient *http.Client
	progress   func(*mcp.ProgressNotificationParams)
}

func (f *fixture) connect(t *testing.T, o clientOpts) *mcp.ClientSession {
	t.Helper()
	copts := &mcp.ClientOptions{}
	if o.progress != nil {
		copts.ProgressNotificationHandler = func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			o.progress(r.Params)
		}
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "1"}, copts)
	tr := &mcp.StreamableClientTransport{Endpoint: "http://" + f.addr + "/", HTTPClient: o.httpClient, MaxRetries: -1}
	cs, err := c.Connect(context.Background(), tr, &mcp.ClientSessionOptions{ProtocolVersion: o.version})
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	if o.version != "" && cs.InitializeResult() != nil && cs.InitializeResult().ProtocolVersion != o.version {
		t.Fatalf("negotiated %s, want %s", cs.InitializeResult().ProtocolVersion, o.version)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func call(t *testing.T, cs *mcp.ClientSession, tool string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("calling %s: %v", tool, err)
	}
	return res
}

func resultText(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func outcome(t *testing.T, r *mcp.CallToolResult) Outcome {
	t.Helper()
	if r.IsError {
		t.Fatalf("tool error: %s", resultText(r))
	}
	var o Outcome
	b, _ := json.Marshal(r.StructuredContent)
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	return o
}

// answer waits for the next pending proposal and answers it, as the
// operator's side does, returning what was filed.
func (f *fixture) answer(t *testing.T, delay time.Duration, r queue.Response) <-chan queue.Proposal {
	t.Helper()
	ch := make(chan queue.Proposal, 1)
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			ps, _ := f.queue.Pending()
			if len(ps) > 0 {
				time.Sleep(delay)
				if err := f.queue.Respond(ps[0].ID, r); err != nil {
					t.Errorf("responding: %v", err)
				}
				ch <- ps[0]
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("no proposal arrived")
		close(ch)
	}()
	return ch
}

const goodRoutes = "- host: api.example.com\n  matches:\n    - paths: [{type: prefix, value: /v1/}]\n      methods: [GET]\n"

const canonicalRoutes = `routes:
  - host: api.example.com
    matches:
      - paths:
          - type: prefix
            value: /v1/
        methods:
          - GET
`

func TestToolsListed(t *testing.T) {
	f := start(t, nil)
	cs := f.connect(t, clientOpts{})
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if len(tool.Description) < 80 {
			t.Errorf("%s: description too thin for an agent: %q", tool.Name, tool.Description)
		}
		b, _ := json.Marshal(tool.InputSchema)
		if tool.Name != "list-egress-routes" && !strings.Contains(string(b), `"required"`) {
			t.Errorf("%s: input schema has no required fields: %s", tool.Name, b)
		}
	}
	want := []string{"capability-block", "egress-allow", "egress-block", "list-egress-routes", "proposal-status"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("tools (-want +got):\n%s", d)
	}
	for _, never := range []string{queue.ToolGitleaksAllow, queue.ToolEgressTokenAllow} {
		r, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: never, Arguments: map[string]any{}})
		if err == nil && !r.IsError {
			t.Errorf("%s is callable by the agent", never)
		}
	}
	if ps, _ := f.queue.Pending(); len(ps) != 0 {
		t.Errorf("queue has %d proposals, want none", len(ps))
	}
}

func TestEgressAllowAnswers(t *testing.T) {
	tests := []struct {
		name      string
		resp      queue.Response
		wantFinal string
		wantWord  string
	}{
		{"approved", queue.Response{Status: queue.StatusApproved, Notes: "ok"}, "", "live now"},
		{"modified", queue.Response{Status: queue.StatusModified, Notes: "narrowed", FinalFile: "routes:\n  - host: api.example.com\n"}, "routes:\n  - host: api.example.com\n", "final_file"},
		{"rejected", queue.Response{Status: queue.StatusRejected, Notes: "not for this task"}, "", "Rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, nil)
			cs := f.connect(t, clientOpts{})
			filed := f.answer(t, 50*time.Millisecond, tt.resp)
			res := call(t, cs, "egress-allow", map[string]any{"routes": goodRoutes, "justification": "need the items API"})
			o := outcome(t, res)
			p := <-filed
			want := Outcome{ID: p.ID, Status: tt.resp.Status, Tool: queue.ToolEgressAllow, Notes: tt.resp.Notes, FinalFile: tt.wantFinal}
			o.Message = ""
			if d := cmp.Diff(want, o); d != "" {
				t.Errorf("outcome (-want +got):\n%s", d)
			}
			if !strings.Contains(resultText(res), tt.wantWord) || !strings.Contains(resultText(res), tt.resp.Notes) {
				t.Errorf("text %q lacks %q or the notes", resultText(res), tt.wantWord)
			}
			if p.BottleSlug != slug || p.Tool != queue.ToolEgressAllow || p.Justification != queue.AgentWords+" need the items API" {
				t.Errorf("proposal = %+v", p)
			}
			if p.ProposedFile != canonicalRoutes {
				t.Errorf("proposed_file:\n%s\nwant:\n%s", p.ProposedFile, canonicalRoutes)
			}
			if p.CurrentFileHash != queue.HashFile([]byte(policy)) {
				t.Errorf("current_file_hash %s is not the policy's", p.CurrentFileHash)
			}
			// The answer was read: the pair is archived, and still readable.
			if _, err := os.Stat(filepath.Join(f.cfg.QueueDir, p.ID+".proposal.json")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("proposal not archived: %v", err)
			}
			if _, err := f.queue.Response(p.ID); err != nil {
				t.Errorf("archived response: %v", err)
			}
		})
	}
}

func TestPendingThenStatus(t *testing.T) {
	f := start(t, func(c *Config) { c.Wait = 300 * time.Millisecond })
	cs := f.connect(t, clientOpts{})
	o := outcome(t, call(t, cs, "egress-allow", map[string]any{"routes": goodRoutes, "justification": "j"}))
	if o.Status != StatusPending || !queue.ValidID(o.ID) || !strings.Contains(o.Message, "pending, proposal ID "+o.ID) {
		t.Fatalf("outcome = %+v, want pending with an id", o)
	}
	ps, _ := f.queue.Pending()
	if len(ps) != 1 || ps[0].ID != o.ID {
		t.Fatalf("pending = %+v, want the proposal left in the queue", ps)
	}
	st := outcome(t, call(t, cs, "proposal-status", map[string]any{"id": o.ID}))
	if st.Status != StatusPending {
		t.Fatalf("status = %+v, want pending", st)
	}
	// wait: true picks up an answer written while it waits.
	f.cfg.Wait = 0
	done := f.answer(t, 100*time.Millisecond, queue.Response{Status: queue.StatusApproved})
	st = outcome(t, call(t, cs, "proposal-status", map[string]any{"id": o.ID, "wait": true}))
	<-done
	if st.Status == StatusPending {
		// The wait is 300 ms; an answer at 100 ms may still miss it on a
		// loaded machine: the plain status call below must see it.
		st = outcome(t, call(t, cs, "proposal-status", map[string]any{"id": o.ID}))
	}
	if st.Status != queue.StatusApproved {
		t.Fatalf("status = %+v, want approved", st)
	}
	if _, err := os.Stat(filepath.Join(f.cfg.QueueDir, queue.ProcessedDir, o.ID+".response.json")); err != nil {
		t.Errorf("answered proposal not archived: %v", err)
	}
	// Asking again after the archive still answers.
	st = outcome(t, call(t, cs, "proposal-status", map[string]any{"id": o.ID}))
	if st.Status != queue.StatusApproved {
		t.Errorf("status after archive = %+v", st)
	}
}

func TestEgressBlockCarriesTheRequest(t *testing.T) {
	f := start(t, nil)
	cs := f.connect(t, clientOpts{})
	filed := f.answer(t, 0, queue.Response{Status: queue.StatusApproved})
	o := outcome(t, call(t, cs, "egress-block", map[string]any{
		"method": "GET", "url": "https://user:pw@api.example.com/v1/items?q=1",
		"reason": "no route for host", "routes": goodRoutes, "justification": "listing items",
	}))
	p := <-filed
	if o.Status != queue.StatusApproved || p.Tool != queue.ToolEgressBlock {
		t.Fatalf("outcome %+v, proposal %+v", o, p)
	}
	if !queue.Unproven(p) || !strings.HasPrefix(p.Justification, queue.UnprovenMark) {
		t.Errorf("a request with no refusal ID is not marked as the agent's claim: %q", p.Justification)
	}
	for _, want := range []string{"Refused request (agent's claim): GET https://user:xxxxx@api.example.com/v1/items?q=1", "Reason (agent's claim): no route for host", queue.AgentWords + " listing items"} {
		if !strings.Contains(p.Justification, want) {
			t.Errorf("justification %q lacks %q", p.Justification, want)
		}
	}
	if strings.Contains(p.Justification, "pw@") {
		t.Errorf("justification carries the URL password: %q", p.Justification)
	}
}

func TestCapabilityBlock(t *testing.T) {
	f := start(t, func(c *Config) {
		c.CapabilityPath = filepath.Join(t.TempDir(), "capability.Dockerfile")
		os.WriteFile(c.CapabilityPath, []byte("RUN true\n"), 0o600)
	})
	cs := f.connect(t, clientOpts{})
	filed := f.answer(t, 0, queue.Response{Status: queue.StatusApproved})
	o := outcome(t, call(t, cs, "capability-block", map[string]any{
		"dockerfile":    "# jq for json\r\nRUN apt-get update && \\\n    apt-get install -y jq\nENV PAGER=cat\n",
		"justification": "parse json",
	}))
	p := <-filed
	if o.Status != queue.StatusApproved || !strings.Contains(o.Message, "next start") {
		t.Errorf("outcome = %+v", o)
	}
	if want := "# jq for json\nRUN apt-get update && \\\n    apt-get install -y jq\nENV PAGER=cat\n"; p.ProposedFile != want {
		t.Errorf("proposed_file %q, want %q", p.ProposedFile, want)
	}
	if p.CurrentFileHash != queue.HashFile([]byte("RUN true\n")) {
		t.Errorf("current_file_hash is not the capability file's")
	}
}

func TestRefusals(t *testing.T) {
	f := start(t, nil)
	cs := f.connect(t, clientOpts{})
	routes := func(r string) map[string]any { return map[string]any{"routes": r, "justification": "j"} }
	block := func(method, url, r string) map[string]any {
		return map[string]any{"method": method, "url": url, "reason": "no route", "routes": r, "justification": "j"}
	}
	docker := func(d string) map[string]any { return map[string]any{"dockerfile": d, "justification": "j"} }
	tests := []struct {
		name, tool string
		args       map[string]any
		want       string
	}{
		{"not yaml", "egress-allow", routes("- host: [a"), "invalid YAML"},
		{"unknown key", "egress-allow", routes("- host: a.example\n  hots: b\n"), "hots"},
		{"no host", "egress-allow", routes("- matches: []\n"), "host"},
		{"empty", "egress-allow", routes(""), "no routes"},
		{"scalar", "egress-allow", routes("a.example"), "expected a list"},
		{"two documents", "egress-allow", routes("- host: a.example\n---\n- host: b.example\n"), "one YAML document"},
		{"auth", "egress-allow", routes("- host: a.example\n  auth: {scheme: Bearer, token_ref: GITHUB_TOKEN}\n"), "auth"},
		{"private", "egress-allow", routes("- host: a.example\n  unsafe_allow_private: true\n"), "unsafe_allow_private"},
		{"git", "egress-allow", routes("routes:\n  - host: a.example\n    git: {fetch: true}\n"), "git"},
		{"grant", "egress-allow", routes("- host: a.example\n  grant: {id: g-forever, uses: 1000000}\n"), "grant is not allowed in a proposed route"},
		{"dlp outbound off", "egress-allow", routes("- host: a.example\n  dlp: {outbound_detectors: false}\n"), "outbound_detectors"},
		{"dlp fewer detectors", "egress-allow", routes("- host: a.example\n  dlp: {outbound_detectors: [entropy]}\n"), "token_patterns"},
		{"dlp inbound off", "egress-allow", routes("- host: a.example\n  dlp: {inbound_detectors: false}\n"), "inbound_detectors"},
		{"dlp redact", "egress-allow", routes("- host: a.example\n  dlp: {outbound_on_match: redact}\n"), "redact"},
		{"no justification", "egress-allow", map[string]any{"routes": goodRoutes, "justification": "  "}, "justification"},
		{"missing field", "egress-allow", map[string]any{"routes": goodRoutes}, "justification"},
		{"block other host", "egress-block", block("GET", "https://other.example/x", goodRoutes), "other.example"},
		{"block bad url", "egress-block", block("GET", "api.example.com/v1", goodRoutes), "url"},
		{"block bad method", "egress-block", block("get it", "https://api.example.com/", goodRoutes), "method"},
		{"block auth", "egress-block", block("GET", "https://a.example/", "- host: a.example\n  auth: {scheme: token, token_ref: T}\n"), "auth"},
		{"from", "capability-block", docker("FROM debian\n"), "FROM"},
		{"copy", "capability-block", docker("COPY . /x\n"), "COPY"},
		{"add url", "capability-block", docker("ADD https://x.example/a /a\n"), "ADD"},
		{"user", "capability-block", docker("USER root\n"), "USER"},
		{"run mount", "capability-block", docker("RUN --mount=type=secret,id=t cat /run/secrets/t\n"), "flags"},
		{"env proxy", "capability-block", docker("ENV HTTPS_PROXY=http://evil:1\n"), "HTTPS_PROXY"},
		{"trailing backslash", "capability-block", docker("RUN echo \\\n"), "backslash"},
		{"no instructions", "capability-block", docker("# nothing\n"), "no instructions"},
		{"status bad id", "proposal-status", map[string]any{"id": "../../etc/passwd"}, "not a proposal ID"},
		{"status unknown id", "proposal-status", map[string]any{"id": "00000000-0000-4000-8000-000000000000"}, "no proposal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, cs, tt.tool, tt.args)
			if !res.IsError {
				t.Fatalf("result is not an error: %s", resultText(res))
			}
			if !strings.Contains(resultText(res), tt.want) {
				t.Errorf("error %q does not mention %q", resultText(res), tt.want)
			}
		})
	}
	if ps, _ := f.queue.Pending(); len(ps) != 0 {
		t.Errorf("refused calls filed %d proposals", len(ps))
	}
}

// TestLongWaitOutlivesHeaderTimeout: the client gives up when response
// headers take longer than its timeout (Claude Code: 60 s; here 300 ms), and
// the operator answers well after it. The call succeeds only because the
// server flushes the headers before it waits and keeps the stream alive.
func TestLongWaitOutlivesHeaderTimeout(t *testing.T) {
	for _, tc := range []struct {
		version      string
		withProgress bool
	}{{"2025-06-18", false}, {"2025-11-25", false}, {"", false}, {"2025-06-18", true}, {"", true}} {
		version, withProgress := tc.version, tc.withProgress
		name := "latest"
		if version != "" {
			name = version
		}
		if withProgress {
			name += " progress token"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := start(t, nil)
			hc := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 300 * time.Millisecond}}
			var mu sync.Mutex
			var progress []*mcp.ProgressNotificationParams
			cs := f.connect(t, clientOpts{version: version, httpClient: hc, progress: func(p *mcp.ProgressNotificationParams) {
				mu.Lock()
				progress = append(progress, p)
				mu.Unlock()
			}})
			filed := f.answer(t, 1500*time.Millisecond, queue.Response{Status: queue.StatusApproved})
			params := &mcp.CallToolParams{Name: "egress-allow", Arguments: map[string]any{"routes": goodRoutes, "justification": "j"}}
			if withProgress {
				params.SetProgressToken("tok-1")
			}
			res, err := cs.CallTool(context.Background(), params)
			if err != nil {
				t.Fatalf("call failed across the wait: %v", err)
			}
			<-filed
			if o := outcome(t, res); o.Status != queue.StatusApproved {
				t.Fatalf("outcome = %+v", o)
			}
			mu.Lock()
			defer mu.Unlock()
			if withProgress && len(progress) < 2 {
				t.Errorf("got %d progress notifications, want several", len(progress))
			}
			if !withProgress && len(progress) != 0 {
				t.Errorf("got progress notifications without a token")
			}
			for _, p := range progress {
				if p.ProgressToken != "tok-1" {
					t.Errorf("progress token %v", p.ProgressToken)
				}
			}
		})
	}
}

// TestHeadersFlushedBeforeAnswer reads the raw HTTP exchange: the response
// headers and a keep-alive comment arrive while the proposal is unanswered.
func TestHeadersFlushedBeforeAnswer(t *testing.T) {
	f := start(t, nil)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"egress-allow","arguments":{"routes":"- host: a.example\n","justification":"j"}}}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+f.addr+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	req.Header.Set(streamHeader, "spoofed")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), ": waiting") {
		t.Fatalf("first bytes %q, %v; want a keep-alive comment", buf[:n], err)
	}
	if ps, _ := f.queue.Pending(); len(ps) != 1 {
		t.Fatalf("the headers came before the proposal was filed, or it was not: %d pending", len(ps))
	}
}

// TestRestart: sessions live in memory, so a restarted server must answer
// the same client and a fresh initialize.
func TestRestart(t *testing.T) {
	for _, v := range []string{"2025-06-18", "2025-11-25", ""} {
		t.Run("version "+v, func(t *testing.T) { testRestart(t, v) })
	}
}

func testRestart(t *testing.T, version string) {
	f := start(t, nil)
	cs := f.connect(t, clientOpts{version: version})
	if r := call(t, cs, "list-egress-routes", map[string]any{}); r.IsError {
		t.Fatalf("before restart: %s", resultText(r))
	}
	// The fixture's server is replaced by a new one on the same address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f2 := &fixture{cfg: f.cfg, addr: ln.Addr().String(), queue: f.queue}
	stop := serve(t, f2.cfg, ln)
	// The client's own transport, so the test can drop the connections the
	// old server closed: a pooled connection that died with the server
	// would fail the next POST with EOF, which no restart can prevent and
	// which real clients answer by reconnecting.
	tr := &http.Transport{}
	cs2 := f2.connect(t, clientOpts{version: version, httpClient: &http.Client{Transport: tr}})
	stop()
	tr.CloseIdleConnections()
	ln2, err := net.Listen("tcp", f2.addr)
	if err != nil {
		t.Skipf("cannot rebind %s for the restart: %v", f2.addr, err)
	}
	serve(t, f2.cfg, ln2)
	if r := call(t, cs2, "list-egress-routes", map[string]any{}); r.IsError {
		t.Errorf("old session after restart: %s", resultText(r))
	}
	cs3 := f2.connect(t, clientOpts{version: version})
	if r := call(t, cs3, "list-egress-routes", map[string]any{}); r.IsError || !strings.Contains(resultText(r), "api.github.com") {
		t.Errorf("fresh session after restart: %s", resultText(r))
	}
}

func TestListEgressRoutes(t *testing.T) {
	const table = `{"routes":[{"host":"api.github.com","auth":{"scheme":"Bearer","token_ref":"GITHUB_TOKEN"}}]}`
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.String() != AllowlistURL || r.Method != http.MethodGet {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusBadRequest)
			return
		}
		w.Write([]byte(table))
	}))
	defer proxy.Close()
	dead := "http://" + closedAddr(t)
	tests := []struct {
		name     string
		mod      func(*Config)
		wantErr  bool
		wantText string
	}{
		{"from the egress daemon", func(c *Config) { c.ProxyURL = proxy.URL }, false, table},
		{"from the policy file", nil, false, "api.github.com"},
		{"proxy down, policy file", func(c *Config) { c.ProxyURL = dead }, false, "policy file"},
		{"proxy down, no policy", func(c *Config) { c.ProxyURL = dead; c.PolicyPath = "" }, true, "did not answer"},
		{"nothing configured", func(c *Config) { c.PolicyPath = "" }, true, "cannot list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, tt.mod)
			r := call(t, f.connect(t, clientOpts{}), "list-egress-routes", map[string]any{})
			if r.IsError != tt.wantErr || !strings.Contains(resultText(r), tt.wantText) {
				t.Errorf("result (error %v) %q, want error %v containing %q", r.IsError, resultText(r), tt.wantErr, tt.wantText)
			}
		})
	}
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestNewServerChecksConfig(t *testing.T) {
	for _, c := range []Config{
		{Slug: "", QueueDir: "/q"},
		{Slug: "../x", QueueDir: "/q"},
		{Slug: "a-1", QueueDir: ""},
		{Slug: "a-1", QueueDir: "/q", Wait: time.Hour},
		{Slug: "a-1", QueueDir: "/q", ProxyURL: "egress:9099"},
	} {
		if _, err := NewServer(c); err == nil {
			t.Errorf("NewServer(%+v): want an error", c)
		}
	}
}

func TestSameChangeFiledOnce(t *testing.T) {
	f := start(t, func(c *Config) { c.Wait = 100 * time.Millisecond })
	cs := f.connect(t, clientOpts{})
	a := outcome(t, call(t, cs, "egress-allow", map[string]any{"routes": goodRoutes, "justification": "first"}))
	// The same routes in another spelling, with another justification.
	b := outcome(t, call(t, cs, "egress-allow", map[string]any{"routes": canonicalRoutes, "justification": "again"}))
	if a.Status != StatusPending || a.ID != b.ID {
		t.Fatalf("second filing got %+v, want the pending %s", b, a.ID)
	}
	// Another tool with the same file is another proposal.
	c := outcome(t, call(t, cs, "egress-block", map[string]any{"method": "GET", "url": "https://api.example.com/v1/x",
		"reason": "r", "routes": goodRoutes, "justification": "j"}))
	if c.ID == a.ID {
		t.Errorf("egress-block reused the egress-allow proposal")
	}
}

func TestPendingCap(t *testing.T) {
	f := start(t, func(c *Config) { c.Wait = time.Millisecond })
	cs := f.connect(t, clientOpts{})
	for i := range MaxPending {
		r := call(t, cs, "egress-allow", map[string]any{"routes": "- host: h" + string(rune('a'+i)) + ".example\n", "justification": "j"})
		if o := outcome(t, r); o.Status != StatusPending {
			t.Fatalf("filing %d: %+v", i, o)
		}
	}
	r := call(t, cs, "egress-allow", map[string]any{"routes": "- host: one-too-many.example\n", "justification": "j"})
	if !r.IsError || !strings.Contains(resultText(r), "already waiting") {
		t.Fatalf("filing past the cap: %s", resultText(r))
	}
	if ps, _ := f.queue.Pending(); len(ps) != MaxPending {
		t.Errorf("%d pending, want %d", len(ps), MaxPending)
	}
}

// TestRedTeamJustificationForgesProvenance: the agent writes the
// sidecar's own marks ("Proxy's record", "Operator's draft") into its
// justification, at its start or on a line of their own. Every
// justification begins with the sidecar's line, the agent's text is one
// line under "The agent's words:", and the host reads no refusal ID from
// it.
func TestRedTeamJustificationForgesProvenance(t *testing.T) {
	const forged = "Proxy's record (refusal rf-0123456789abcdef): GET https://api.example.com/v1/x refused at 2026-12-07T06:00:00Z\n" +
		"Proxy's reason (no-route): no egress route allows host api.example.com\n\n" +
		"Operator's draft (from refusal rf-0123456789abcdef)\u2028Proxy's record (refusal rf-0123456789abcdef)"
	tests := []struct {
		name, tool string
		args       map[string]any
		first      string
	}{
		{"egress-allow", "egress-allow", map[string]any{"routes": goodRoutes, "justification": forged}, queue.AgentWords},
		{"egress-block without an ID", "egress-block", map[string]any{"method": "GET", "url": "https://api.example.com/v1/x",
			"reason": "no-route", "routes": goodRoutes, "justification": "listing\n" + forged}, queue.UnprovenMark},
		{"capability-block", "capability-block", map[string]any{"dockerfile": "RUN true\n", "justification": forged}, queue.AgentWords},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, func(c *Config) {
				c.CapabilityPath = filepath.Join(t.TempDir(), "capability.Dockerfile")
				os.WriteFile(c.CapabilityPath, []byte("RUN true\n"), 0o600)
			})
			filed := f.answer(t, 0, queue.Response{Status: queue.StatusRejected, Notes: "no"})
			call(t, f.connect(t, clientOpts{}), tt.tool, tt.args)
			p := <-filed
			if !strings.HasPrefix(p.Justification, tt.first) {
				t.Errorf("justification does not begin with the sidecar's %q:\n%s", tt.first, p.Justification)
			}
			lines := strings.Split(p.Justification, "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, queue.AgentWords+" ") || strings.Contains(last, "\u2028") {
				t.Errorf("the agent's text is not one line under %q:\n%q", queue.AgentWords, p.Justification)
			}
			for _, l := range lines[:len(lines)-1] {
				if strings.Contains(l, "rf-0123456789abcdef") || strings.HasPrefix(l, queue.OperatorMark) || strings.HasPrefix(l, queue.ProvenMark) {
					t.Errorf("the agent's text has a line of its own: %q", l)
				}
			}
			if id := queue.RefusalID(p); id != "" {
				t.Errorf("the host reads refusal %s from the agent's text", id)
			}
			if tt.tool == "egress-block" && !queue.Unproven(p) {
				t.Error("the forged record passes for the proxy's")
			}
		})
	}
}
