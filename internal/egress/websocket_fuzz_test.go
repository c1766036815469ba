package egress

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/coder/websocket"

	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// FuzzWebSocketOutbound feeds agent-controlled messages, cut wherever the
// fuzzer likes, to the check each outbound message passes. Whenever the
// messages so far spell the held token, the message that completes it
// must be refused: the upstream never receives the whole secret.
func FuzzWebSocketOutbound(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	os.WriteFile(path, []byte("egress:\n  routes:\n    - host: up.example.com\n      auth: {scheme: Bearer, token_ref: UP_TOKEN}\n      websocket: true\n"), 0o600)
	pol, err := policy.LoadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	st, err := buildState(pol, func(string) string { return heldToken }, nil, true)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"a":"`+heldToken[:10]), []byte(heldToken[10:]+`"}`), uint8(3))
	f.Add([]byte("hello"), []byte("world"), uint8(0))
	f.Add([]byte{0, 0xff, 0x81}, []byte(heldToken), uint8(1))
	f.Fuzz(func(t *testing.T, a, b []byte, cut uint8) {
		p := &wsPipe{s: &Server{}, st: st, t: target{host: "up.example.com"}, route: pol.Routes[0]}
		check := p.outbound()
		msgs := [][]byte{a, b}
		if c := int(cut); c < len(b) {
			msgs = [][]byte{a, b[:c], b[c:]}
		}
		var sent []byte
		for _, m := range msgs {
			if ref := check(websocket.MessageText, m); ref != nil {
				if ref.code != policy.CodeDLP && ref.code != policy.CodeDLPUnscanable {
					t.Fatalf("refused with %q", ref.code)
				}
				return
			}
			sent = append(sent, m...)
			if bytes.Contains(sent, []byte(heldToken)) {
				t.Fatalf("the held token went out across %d messages", len(msgs))
			}
		}
	})
}
