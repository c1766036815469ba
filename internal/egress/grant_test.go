package egress

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// A route approved with --ttl 3s lets the request through, and after its
// expiry the same request, on the same tunnel and with no reload, is
// refused with a reason naming the grant.
func TestGrantTTLThroughProxy(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, "egress:\n  routes: []\n", nil)
	exp := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	writePolicy(t, p.policy, "egress:\n  routes:\n    - host: up.example.com\n      grant: {id: g-ttl3s, expires: \""+exp.Format(time.RFC3339)+"\"}\n", up.port)
	p.srv.reloadIfChanged()
	c := p.client(t)
	_, _, table, err := do(t, c, newReq(t, "GET", "http://_egress.local/allowlist", nil))
	if err != nil || !strings.Contains(table, `"id": "g-ttl3s"`) || !strings.Contains(table, `"expires": "`+exp.Format(time.RFC3339)+`"`) {
		t.Fatalf("allowlist does not show the grant and its expiry: %v\n%s", err, table)
	}
	u := "https://up.example.com:" + up.port + "/v1/x"
	if st, code, _, err := do(t, c, newReq(t, "GET", u, nil)); err != nil || st != 200 {
		t.Fatalf("within the grant: %d %s %v", st, code, err)
	}
	time.Sleep(time.Until(exp)) // the expiry is exact: no race with the check
	st, code, body, err := do(t, c, newReq(t, "GET", u, nil))
	if err != nil || st != 403 || code != "grant-spent" || !strings.Contains(body, "grant g-ttl3s expired at "+exp.Format(time.RFC3339)) {
		t.Fatalf("after expiry: %d %s %q %v", st, code, body, err)
	}
}

// A route approved with --uses 2 allows exactly two requests.
func TestGrantUsesThroughProxy(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, "egress:\n  routes:\n    - host: up.example.com\n      grant: {id: g-uses2-proxy, uses: 2}\n", nil)
	c := p.client(t)
	u := "https://up.example.com:" + up.port + "/v1/x"
	var got []int
	for i := 0; i < 3; i++ {
		st, _, _, err := do(t, c, newReq(t, "GET", u, nil))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, st)
	}
	if got[0] != 200 || got[1] != 200 || got[2] != 403 {
		t.Fatalf("statuses %v, want 200 200 403", got)
	}
	if up.seen.count() != 2 {
		t.Errorf("upstream saw %d requests, want 2", up.seen.count())
	}
}

// Every use of a grant is logged at any log level, once per request and
// never for the tunnel that carries it: a new run counts a grant's uses
// from this log (resume honours what is left), so a use missing from it
// would be handed back.
func TestGrantUseLoggedAtEveryLevel(t *testing.T) {
	up := newUpstream(t, true)
	for _, level := range []int{0, 1} {
		t.Run(fmt.Sprintf("log %d", level), func(t *testing.T) {
			p := startProxy(t, up, fmt.Sprintf("egress:\n  log: %d\n  routes:\n    - host: up.example.com\n      grant: {id: g-log%d, uses: 5}\n    - host: other.example.com\n", level, level), nil)
			c := p.client(t)
			for _, u := range []string{"https://up.example.com:" + up.port + "/v1/a", "https://up.example.com:" + up.port + "/v1/b", "https://other.example.com:" + up.port + "/"} {
				if st, code, _, err := do(t, c, newReq(t, "GET", u, nil)); err != nil || st != 200 {
					t.Fatalf("%s: %d %s %v", u, st, code, err)
				}
			}
			n, err := policy.CountGrantUses(strings.NewReader(p.logText()))
			if err != nil || n[fmt.Sprintf("g-log%d", level)] != 2 {
				t.Errorf("the log counts %v uses (%v), want 2:\n%s", n, err, p.logText())
			}
			if level == 0 && strings.Contains(p.logText(), "other.example.com") {
				t.Errorf("log 0 logged an allowed request outside a grant:\n%s", p.logText())
			}
		})
	}
}
