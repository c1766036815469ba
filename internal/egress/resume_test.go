package egress

import (
	"net/http"
	"strings"
	"testing"
)

// TestUpstreamTLSSessionResumed: once the pooled upstream connection is
// gone, the next one resumes the earlier TLS session rather than paying a
// full handshake (an agent that opens a connection per request).
func TestUpstreamTLSSessionResumed(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, basePolicy, nil)
	c := p.client(t)
	resumed := make([]bool, 0, 2)
	for range 2 {
		st, _, body, err := do(t, c, newReq(t, http.MethodGet, "https://up.example.com:"+up.port+"/v1/items", nil))
		if err != nil || st != 200 || !strings.Contains(body, "/v1/items") {
			t.Fatalf("status %d err %v body %s", st, err, body)
		}
		r, _ := up.seen.last(t)
		resumed = append(resumed, r.TLS != nil && r.TLS.DidResume)
		p.srv.transport.CloseIdleConnections() // the next request dials afresh
	}
	if resumed[0] || !resumed[1] {
		t.Errorf("upstream TLS resumed = %v, want [false true]", resumed)
	}
}
