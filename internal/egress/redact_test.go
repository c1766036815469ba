package egress

import (
	"strings"
	"testing"
)

func TestRedactScrubsAndForwards(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, `egress:
  routes:
    - host: up.example.com
      auth: {scheme: Bearer, token_ref: UP_TOKEN}
      dlp: {outbound_on_match: redact}
`, nil)
	c := p.client(t)
	st, code, body, err := do(t, c, newReq(t, "POST", "https://up.example.com:"+up.port+"/v1/x",
		strings.NewReader(`{"text":"my key is real-upstream-token-0123456789abcdef ok"}`), "Content-Type", "application/json"))
	if err != nil || st != 200 {
		t.Fatalf("%d %s %v\n%s", st, code, err, body)
	}
	_, got := up.seen.last(t)
	if strings.Contains(string(got), "real-upstream-token") || !strings.Contains(string(got), "my key is") {
		t.Errorf("upstream body = %q", got)
	}
	if !strings.Contains(p.logText(), "redacted known_secrets UP_TOKEN") {
		t.Errorf("redaction not logged:\n%s", p.logText())
	}
}
