package apply

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/policy"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

func decideLive(t *testing.T, f fixture, now time.Time, method, path string) policy.Decision {
	t.Helper()
	p, err := policy.LoadFile(f.paths().Policy())
	if err != nil {
		t.Fatal(err)
	}
	p.Now = func() time.Time { return now }
	return p.Decide(policy.Request{Method: method, Scheme: "https", Host: "example.com", Port: 443, Path: path})
}

// An approval with --ttl, --uses and a method and path narrowing lands in
// the live policy and approved.yaml with its limits, is audited with
// them, and Expire drops it once spent.
func TestApproveWithLimits(t *testing.T) {
	f := newFixture(t)
	it := f.submit(t, queue.ToolEgressAllow, "routes:\n  - host: example.com\n")
	l := Limits{TTL: 3 * time.Second, Uses: 10, Methods: []string{"get"}, PathPrefixes: []string{"/v1/"}}
	if err := f.op.Decide(it, Decision{Status: queue.StatusApproved, Limits: l}); err != nil {
		t.Fatal(err)
	}
	gid := GrantID(it.Proposal.ID)
	for _, file := range []string{f.paths().Policy(), f.paths().Approved()} {
		if s := read(t, file); !strings.Contains(s, "id: "+gid) || !strings.Contains(s, "expires: \"2026-11-26T12:00:03Z\"") || !strings.Contains(s, "uses: 10") {
			t.Errorf("%s lacks the grant:\n%s", file, s)
		}
	}
	if d := decideLive(t, f, t0.Add(time.Second), "GET", "/v1/a"); !d.Allow {
		t.Errorf("within the grant: %+v", d)
	}
	if d := decideLive(t, f, t0.Add(time.Second), "POST", "/v1/a"); d.Allow {
		t.Errorf("POST allowed by a GET-only grant: %+v", d)
	}
	if d := decideLive(t, f, t0.Add(time.Second), "GET", "/v2/a"); d.Allow {
		t.Errorf("/v2/ allowed by a /v1/ grant: %+v", d)
	}
	if d := decideLive(t, f, t0.Add(3*time.Second), "GET", "/v1/a"); d.Allow || !strings.Contains(d.Reason, "grant "+gid+" expired") {
		t.Errorf("after expiry: %+v", d)
	}
	es := auditEntries(t, f)
	if len(es) != 1 || es[0].Limits != "ttl 3s; 10 uses; methods GET; path prefixes /v1/" || !strings.Contains(es[0].Content, gid) {
		t.Fatalf("audit: %+v", es)
	}
	f.op.Now = func() time.Time { return t0.Add(3 * time.Second) }
	dropped, err := f.op.Expire(f.slug)
	if err != nil || len(dropped) != 1 || dropped[0] != gid {
		t.Fatalf("Expire: %v %v", dropped, err)
	}
	if s := read(t, f.paths().Policy()); strings.Contains(s, "example.com\n") && strings.Contains(s, gid) {
		t.Errorf("expired grant still in the live policy:\n%s", s)
	}
	es = auditEntries(t, f)
	if len(es) != 2 || es[1].Action != ActionExpired || !strings.Contains(es[1].Notes, gid) {
		t.Errorf("expiry not audited: %+v", es)
	}
}

// Narrowing never widens a route.
func TestLimitsNeverWiden(t *testing.T) {
	f := newFixture(t)
	it := f.submit(t, queue.ToolEgressAllow, "routes:\n  - host: example.com\n    matches: [{methods: [GET]}]\n")
	err := f.op.Decide(it, Decision{Status: queue.StatusApproved, Limits: Limits{Methods: []string{"POST"}}})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "allows none of the methods POST") {
		t.Fatalf("err = %v", err)
	}
}

// Limits on anything but an approved egress route are refused, not
// silently dropped.
func TestLimitsOnlyOnEgressApprovals(t *testing.T) {
	l := Limits{TTL: time.Hour}
	if err := Check(queue.ToolGitleaksAllow, Decision{Status: queue.StatusApproved, Notes: "x", Limits: l}); !errors.Is(err, ErrRefused) {
		t.Errorf("gitleaks-allow with --ttl: %v", err)
	}
	if err := Check(queue.ToolEgressAllow, Decision{Status: queue.StatusRejected, Limits: l}); !errors.Is(err, ErrRefused) {
		t.Errorf("reject with --ttl: %v", err)
	}
	if err := Check(queue.ToolEgressAllow, Decision{Status: queue.StatusApproved, Limits: l}); err != nil {
		t.Errorf("egress-allow with --ttl: %v", err)
	}
}
