package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestSuperviseServe(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policy, []byte("egress:\n  routes:\n    - host: pypi.org\n"), 0o600)
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	vars := map[string]string{
		"SUPERVISE_BOTTLE_SLUG": "impl-k3x9q",
		"SUPERVISE_QUEUE_DIR":   filepath.Join(dir, "queue"),
		"SUPERVISE_PORT":        port,
	}
	var stderr lockedBuffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &stderr, Stderr: &stderr, Home: dir, Cwd: dir,
		Getenv: func(k string) string { return vars[k] }, Environ: func() []string { return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, []string{"supervise", "serve", "--policy", policy}, env) }()
	defer func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("serve exited %d: %s", code, stderr.String())
		}
	}()

	c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	var cs *mcp.ClientSession
	var err error
	for range 100 { // the server is starting in its goroutine
		cs, err = c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/", MaxRetries: -1}, nil)
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("connecting: %v\n%s", err, stderr.String())
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "list-egress-routes", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "pypi.org") {
		t.Errorf("list-egress-routes: %+v", res.Content)
	}
	if !strings.Contains(stderr.String(), `"msg":"supervise listening"`) {
		t.Errorf("no JSON log line on stderr: %q", stderr.String())
	}
}

func TestSuperviseServeUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		vars map[string]string
		want string
	}{
		{"no slug", []string{"--queue-dir", dir}, nil, "no bottle slug"},
		{"no queue", []string{"--slug", "a-b"}, nil, "no queue directory"},
		{"bad slug", []string{"--slug", "A/b", "--queue-dir", dir}, nil, "invalid bottle slug"},
		{"bad port", []string{"--slug", "a-b", "--queue-dir", dir}, map[string]string{"SUPERVISE_PORT": "http"}, "SUPERVISE_PORT"},
		{"bad wait env", []string{"--slug", "a-b", "--queue-dir", dir}, map[string]string{"SUPERVISE_WAIT_SECONDS": "0"}, "SUPERVISE_WAIT_SECONDS"},
		{"bad wait flag", []string{"--slug", "a-b", "--queue-dir", dir, "--wait", "1h"}, nil, "out of range"},
		{"bad proxy", []string{"--slug", "a-b", "--queue-dir", dir, "--proxy", "egress:9099"}, nil, "proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Home: dir, Cwd: dir,
				Getenv: func(k string) string { return tt.vars[k] }, Environ: func() []string { return nil }}
			code := Run(context.Background(), append([]string{"supervise", "serve"}, tt.args...), env)
			if code != ExitError || !strings.Contains(out.String(), tt.want) {
				t.Errorf("exit %d, output %q; want %d mentioning %q", code, out.String(), ExitError, tt.want)
			}
		})
	}
}
