package egress

import (
	"strings"
	"testing"
)

// TestMethodsListBodyForwarded: on a route with DLP off and a methods
// list, a form body is read to look for _method, and then still sent
// upstream whole.
func TestMethodsListBodyForwarded(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, "egress:\n  routes:\n    - host: up.example.com\n      dlp: {outbound_detectors: false, inbound_detectors: false}\n      matches:\n        - methods: [POST]\n", nil)
	c := p.client(t)
	st, code, body, err := do(t, c, newReq(t, "POST", "https://up.example.com:"+up.port+"/v1/form", strings.NewReader("a=1&b=2"), "Content-Type", "application/x-www-form-urlencoded"))
	if err != nil || st != 200 {
		t.Fatalf("%d %q %v %s", st, code, err, body)
	}
	if _, b := up.seen.last(t); string(b) != "a=1&b=2" {
		t.Fatalf("upstream got body %q", b)
	}
}
