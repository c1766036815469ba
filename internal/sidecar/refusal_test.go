package sidecar

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bot-bottle/bot-bottle/internal/ca"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// In the sidecar as a bottle runs it, supervise proves an egress-block
// against the log of the egress daemon beside it: the refusal the proxy
// answered becomes the proxy's record in the proposal.
func TestEgressBlockProvedInTheBundle(t *testing.T) {
	root := stateRoot(t)
	if err := os.WriteFile(filepath.Join(root, "egress", "policy.yaml"), []byte("egress:\n  routes: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.LoadOrCreate(filepath.Join(root, "ca")); err != nil { // the host makes it
		t.Fatal(err)
	}
	qdir := filepath.Join(root, "queue")
	runReady(t, Config{
		Root: root,
		Settings: Settings{Daemons: []string{DaemonEgress, DaemonSupervise, DaemonDNS}, Slug: "impl-k3x9q",
			QueueDir: qdir, EgressTokenAllowTimeout: time.Minute},
		Listen: map[string]string{DaemonEgress: freeLoopbackAddr(t), DaemonSupervise: "127.0.0.1:0", DaemonDNS: "127.0.0.1:0"},
	})
	proxy := &url.URL{Scheme: "http", Host: listening(t, root, DaemonEgress)}
	agent := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}, Timeout: 10 * time.Second}
	resp, err := agent.Get("http://blocked.example/v1/items")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Bot-Bottle-Refusal-Id")
	if resp.StatusCode != http.StatusForbidden || id == "" {
		t.Fatalf("the proxy answered %d, refusal ID %q", resp.StatusCode, id)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + listening(t, root, DaemonSupervise) + "/", MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	done := make(chan error, 1)
	go func() { // the call waits for the operator
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "egress-block", Arguments: map[string]any{
			"refusal_id": id, "routes": "- host: blocked.example\n", "justification": "the task needs it"}})
		done <- err
	}()
	q := queue.New(qdir)
	var ps []queue.Proposal
	for deadline := time.Now().Add(20 * time.Second); len(ps) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ps, _ = q.Pending()
	}
	if len(ps) != 1 {
		t.Fatalf("%d proposals filed", len(ps))
	}
	if want := queue.ProvenMark + " (refusal " + id + "): GET http://blocked.example/v1/items refused at "; !strings.HasPrefix(ps[0].Justification, want) || queue.Unproven(ps[0]) {
		t.Errorf("the proposal does not carry the proxy's record:\n%s", ps[0].Justification)
	}
	if err := q.Respond(ps[0].ID, queue.Response{Status: queue.StatusRejected, Notes: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("egress-block: %v", err)
	}
}
