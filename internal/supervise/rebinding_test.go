package supervise

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestLoopbackHostGuard: on a loopback address (an agent in a pod shares
// the sidecar's loopback) the agent's "supervise" name and loopback names
// are served; any other Host is a DNS-rebinding page and is refused, as
// the MCP SDK's own guard refused it (and the agent's name with it).
func TestLoopbackHostGuard(t *testing.T) {
	f := start(t, nil)
	_, port, _ := strings.Cut(f.addr, ":")
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	for host, want := range map[string]int{
		"supervise:" + port:      http.StatusOK,
		"supervise":              http.StatusOK,
		"127.0.0.1:" + port:      http.StatusOK,
		"localhost:" + port:      http.StatusOK,
		"[::1]:" + port:          http.StatusOK,
		"evil.example:" + port:   http.StatusForbidden,
		"supervise.evil.example": http.StatusForbidden,
	} {
		req, _ := http.NewRequest("POST", "http://"+f.addr+"/", strings.NewReader(init))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d %s, want %d", host, resp.StatusCode, b, want)
		}
	}
}
