package inspect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/policy"
	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/audit"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

const refusedLine = `{"time":"2026-12-07T06:00:00.5Z","level":"WARN","msg":"egress","decision":"refuse","code":"no-route","reason":"no egress route allows host api.example.test","method":"POST","scheme":"https","host":"api.example.test","port":443,"path":"/v1/items/42","status":403,"refusal_id":"rf-0123456789abcdef"}` + "\n"

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
}

// A refusal in a bottle's egress log shows as an event; its draft, filed
// and approved, makes the identical request allowed, and the audit line
// names the operator and holds the route.
func TestRefusalToRoute(t *testing.T) {
	home := t.TempDir()
	b := hoststate.New(home).Bottle("impl-k3x9q")
	if err := os.MkdirAll(filepath.Dir(b.Policy()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.Policy(), []byte("egress:\n  routes: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := NewWatcher(home)
	if evs, err := w.Poll(); err != nil || len(evs) != 0 {
		t.Fatalf("before: %v %v", evs, err)
	}
	appendLine(t, filepath.Join(b.Logs(), "egress.jsonl"), `{"time":"2026-12-07T06:00:00Z","level":"INFO","msg":"egress policy reloaded"}`+"\n"+refusedLine)
	evs, err := w.Poll()
	if err != nil || len(evs) != 1 {
		t.Fatalf("events %+v %v", evs, err)
	}
	e := evs[0]
	if !e.Refused() || e.Bottle != "impl-k3x9q" || e.Method != "POST" || e.Host != "api.example.test" || e.Path != "/v1/items/42" || e.Status != 403 || e.RefusalID != "rf-0123456789abcdef" {
		t.Fatalf("event %+v", e)
	}
	draft := Draft(e)
	if !strings.Contains(draft, "- host: api.example.test") || !strings.Contains(draft, "- POST") || !strings.Contains(draft, "value: /v1/items/") {
		t.Fatalf("draft:\n%s", draft)
	}
	p, err := File(home, e.Bottle, draft, e.RefusalID)
	if err != nil {
		t.Fatal(err)
	}
	op := &apply.Operator{Home: home, User: "alice"}
	it, err := op.Find(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Decide(it, apply.Decision{Status: queue.StatusApproved}); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.LoadFile(b.Policy())
	if err != nil {
		t.Fatal(err)
	}
	req := policy.Request{Method: "POST", Scheme: "https", Host: "api.example.test", Port: 443, Path: "/v1/items/42"}
	if d := pol.Decide(req); !d.Allow {
		t.Errorf("the identical request is still refused: %+v", d)
	}
	req.Method = "DELETE"
	if d := pol.Decide(req); d.Allow {
		t.Errorf("the draft is wider than the request: DELETE allowed")
	}
	es, err := audit.Read(audit.Path(home, "impl-k3x9q"))
	if err != nil || len(es) != 1 || es[0].Operator != "alice" || !strings.Contains(es[0].Content, "host: api.example.test") || !strings.Contains(es[0].Notes+es[0].Content, "") {
		t.Errorf("audit: %+v %v", es, err)
	}
}

// An invalid edit is not filed.
func TestFileValidates(t *testing.T) {
	home := t.TempDir()
	if _, err := File(home, "impl-k3x9q", "routes:\n  - hots: x\n", ""); err == nil {
		t.Fatal("an invalid route was filed")
	}
}
