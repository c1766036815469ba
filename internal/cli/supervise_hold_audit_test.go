package cli

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/egress"
	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/supervise/audit"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// TestHoldAuditRecordsFindingsNotTheSecret: a real proxy holds a request
// carrying a token; the operator approves it with a reason. The audit line
// and `audit show` hold what the hold showed (the finding), the operator
// and the reason, and never the token.
func TestHoldAuditRecordsFindingsNotTheSecret(t *testing.T) {
	home := t.TempDir()
	const slug = "hold-k3x9q"
	b := hoststate.New(home).Bottle(slug)
	px := startLiveProxy(t, home, slug, "", func(c *egress.Config) {
		c.QueueDir, c.BottleSlug, c.TokenAllowTimeout = b.Queue(), slug, time.Minute
	})
	mustWrite(t, px.policy, fmt.Sprintf("egress:\n  routes:\n    - host: api.hold.test\n      ports: [%d]\n", px.upPort))
	px.allowlistShows("api.hold.test")
	secret := "ghp_" + strings.Repeat("a1B2c3D4e5", 4)[:36]
	done := make(chan int, 1)
	go func() {
		st, _, _ := px.send("POST", px.url("api.hold.test", "/v1/gists"), "token "+secret+" in a paste")
		done <- st
	}()
	var id string
	for deadline := time.Now().Add(30 * time.Second); id == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ps, _ := queue.New(b.Queue()).Pending(); len(ps) == 1 {
			id = ps[0].ID
		}
	}
	if id == "" {
		t.Fatal("the request was not held")
	}
	cli(t, home, "supervise", "approve", id, "--reason", "a revoked test key")
	if st := <-done; st != 200 {
		t.Fatalf("the approved request answered %d", st)
	}
	es, err := audit.Read(audit.Path(home, slug))
	if err != nil || len(es) != 1 {
		t.Fatalf("audit: %+v %v", es, err)
	}
	e := es[0]
	if e.Tool != queue.ToolEgressTokenAllow || e.Operator == "" || e.Notes != "a revoked test key" || !strings.Contains(e.Content, "findings:") {
		t.Errorf("the audit line does not record what the hold showed and who decided: %+v", e)
	}
	shown := cli(t, home, "audit", "show", slug)
	raw, _ := os.ReadFile(audit.Path(home, slug))
	for where, text := range map[string]string{"audit log": string(raw), "audit show": shown} {
		if strings.Contains(text, secret) || strings.Contains(text, secret[4:]) {
			t.Errorf("the %s holds the token:\n%s", where, text)
		}
	}
	if !strings.Contains(shown, "findings:") || !strings.Contains(shown, "a revoked test key") {
		t.Errorf("audit show lacks the findings or the reason:\n%s", shown)
	}
}
