package manifest

import (
	"strings"
	"testing"
)

// TestWebSocketMaxMessage: a route may raise (or lower) its per-message
// WebSocket maximum up to 256 MiB, only with websocket: true.
func TestWebSocketMaxMessage(t *testing.T) {
	got, err := ParseRoutes("proposal", []byte("- host: a.com\n  websocket: true\n  websocket_max_message: 268435456\n"))
	if err != nil || len(got) != 1 || got[0].WebSocketMaxMessage != MaxWebSocketMessage {
		t.Fatalf("the largest maximum: %+v, %v", got, err)
	}
	for in, want := range map[string]string{
		"- host: a.com\n  websocket_max_message: 1024\n":                         "set without websocket: true",
		"- host: a.com\n  websocket: true\n  websocket_max_message: 268435457\n": "268435457 is not between 1 and 268435456 bytes",
		"- host: a.com\n  websocket: true\n  websocket_max_message: -1\n":        "-1 is not between 1 and 268435456 bytes",
	} {
		if _, err := ParseRoutes("proposal", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRoutes(%q) = %v, want %q", in, err, want)
		}
	}
}
