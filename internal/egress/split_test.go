package egress

import "testing"

// TestRedTeamSplitAcrossRequests: the held token sent in two halves, each
// in its own request on its own connection of one bottle. Each half alone
// was forwarded; now the proxy's per-bottle dlp.History joins them and the
// second request is refused before it reaches the upstream.
func TestRedTeamSplitAcrossRequests(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, redTeamPolicy, nil)
	a, b := heldToken[:len(heldToken)/2], heldToken[len(heldToken)/2:]
	runTunnelCases(t, p, up, []redTeamCase{
		{"first half", "GET /v1/a?part=" + a + " HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"200 -"}, 1},
		{"second half, new connection", "GET /v1/b?part=" + b + " HTTP/1.1\r\nHost: HOST\r\n\r\n", []string{"403 dlp"}, 0},
	})
}
