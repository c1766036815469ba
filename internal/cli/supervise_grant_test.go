package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/audit"
)

// TestScopedGrantsEndToEnd: the agent's request is refused by a real
// proxy; a real MCP client files egress-block with the refusal ID; the
// operator runs `supervise approve ID --ttl 3s`. The request passes, the
// agent's list-egress-routes shows the grant and its expiry, and after the
// expiry the same request is refused naming the grant, with nothing
// restarted; the next read of the queues drops it from the policy files
// and audits it. `--uses 2` then allows exactly two requests, and is
// dropped and audited once spent.
func TestScopedGrantsEndToEnd(t *testing.T) {
	home := t.TempDir()
	const slug = "grant-k3x9q"
	px := startLiveProxy(t, home, slug, "egress:\n  routes: []\n  log: 1\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := hoststate.New(home).Bottle(slug)
	supAddr := freeAddr(t)
	var supLog lockedBuffer
	go Run(ctx, []string{"supervise", "serve", "--slug", slug, "--queue-dir", b.Queue(), "--listen", supAddr,
		"--policy", b.Policy(), "--proxy", "http://" + px.addr, "--egress-log", px.log, "--wait", "1s"}, egressEnv(home, &supLog, nil))
	cs := mcpSession(ctx, t, supAddr)
	target := px.url("api.grant.test", "/v1/x")
	route := fmt.Sprintf("- host: api.grant.test\n  ports: [%d]\n", px.upPort)

	st, rid, _ := px.do("GET", target)
	if st != 403 || rid == "" {
		t.Fatalf("before any grant: %d, refusal ID %q", st, rid)
	}
	callTool(ctx, t, cs, "egress-block", map[string]any{"refusal_id": rid, "routes": route, "justification": "the task needs it"})
	id := pendingID(t, home)
	out := cli(t, home, "supervise", "approve", id, "--ttl", "3s")
	grant := apply.GrantID(id)
	if !strings.Contains(out, "scoped: ttl 3s (grant "+grant+")") {
		t.Fatalf("approve printed %q", out)
	}
	table := px.allowlistShows(`"id": "` + grant + `"`)
	m := regexp.MustCompile(`"expires": "([^"]+)"`).FindStringSubmatch(table)
	if m == nil {
		t.Fatalf("the allowlist shows no expiry:\n%s", table)
	}
	exp, err := time.Parse(time.RFC3339, m[1])
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := px.do("GET", target); st != 200 || body != "upstream ok" {
		t.Fatalf("within the grant: %d %s", st, body)
	}
	if routes := callTool(ctx, t, cs, "list-egress-routes", map[string]any{}); !strings.Contains(routes, grant) || !strings.Contains(routes, m[1]) {
		t.Errorf("list-egress-routes does not show the grant and its expiry:\n%s", routes)
	}

	time.Sleep(time.Until(exp)) // the proxy compares the expiry on each request
	st, _, body := px.do("GET", target)
	if st != 403 || !strings.Contains(body, "reason (grant-spent): grant "+grant+" expired at "+m[1]) {
		t.Fatalf("after the expiry: %d\n%s", st, body)
	}
	cli(t, home, "supervise", "list") // a read of the queues drops the spent grant
	for _, f := range []string{b.Policy(), b.Approved()} {
		if raw, _ := os.ReadFile(f); strings.Contains(string(raw), "api.grant.test") {
			t.Errorf("%s still holds the expired grant:\n%s", f, raw)
		}
	}
	es, err := audit.Read(audit.Path(home, slug))
	if err != nil || len(es) != 2 || es[0].Limits != "ttl 3s" || es[0].RefusalID != rid ||
		es[1].Action != apply.ActionExpired || !strings.Contains(es[1].Notes, "grant "+grant+" on api.grant.test expired at "+m[1]) {
		t.Fatalf("audit: %+v %v", es, err)
	}

	// audit show --json prints the same record, one JSON document a line;
	// without a slug it covers every bottle.
	shown := strings.Split(strings.TrimSpace(cli(t, home, "audit", "show", "--json", slug)), "\n")
	var first audit.Entry
	if len(shown) != 2 || json.Unmarshal([]byte(shown[0]), &first) != nil || first.Operator == "" || first.RefusalID != rid ||
		first.Limits != "ttl 3s" || !strings.Contains(first.Content, "host: api.grant.test") || !strings.Contains(first.Content, "id: "+grant) {
		t.Errorf("audit show --json:\n%s", strings.Join(shown, "\n"))
	}
	if all := cli(t, home, "audit", "show"); !strings.Contains(all, "approved egress-block") || !strings.Contains(all, "refusal:  "+rid) ||
		!strings.Contains(all, "operator: "+first.Operator) || !strings.Contains(all, "expired") {
		t.Errorf("audit show:\n%s", all)
	}

	callTool(ctx, t, cs, "egress-allow", map[string]any{"routes": route, "justification": "again, twice"})
	id = pendingID(t, home)
	cli(t, home, "supervise", "approve", id, "--uses", "2")
	px.allowlistShows(`"id": "` + apply.GrantID(id) + `"`)
	var got []int
	for range 3 {
		st, _, body = px.do("GET", target)
		got = append(got, st)
	}
	if got[0] != 200 || got[1] != 200 || got[2] != 403 || !strings.Contains(body, "grant "+apply.GrantID(id)+" has used all its 2 uses") {
		t.Errorf("--uses 2: statuses %v, last body:\n%s", got, body)
	}
	// The spent grant leaves the files too, counted from the proxy's log.
	cli(t, home, "supervise", "list")
	if raw, _ := os.ReadFile(b.Policy()); strings.Contains(string(raw), "api.grant.test") {
		t.Errorf("the live policy still holds the spent grant:\n%s", raw)
	}
	es, err = audit.Read(audit.Path(home, slug))
	if err != nil || len(es) != 4 || es[3].Action != apply.ActionExpired || es[3].Notes != "grant "+apply.GrantID(id)+" on api.grant.test has used all its 2 uses" {
		t.Errorf("the spent grant is not audited: %+v %v", es, err)
	}
}

// pendingID is the one pending proposal's ID.
func pendingID(t *testing.T, home string) string {
	t.Helper()
	var items []pendingJSON
	if err := json.Unmarshal([]byte(cli(t, home, "supervise", "list", "--json")), &items); err != nil || len(items) != 1 {
		t.Fatalf("supervise list --json: %v %+v", err, items)
	}
	return items[0].ID
}

// cli runs one bot-bottle command that must succeed and returns stdout.
func cli(t *testing.T, home string, args ...string) string {
	t.Helper()
	env, out, errb := testEnv(home)
	if code := Run(context.Background(), args, env); code != ExitOK {
		t.Fatalf("%v = %d: %s %s", args, code, out, errb)
	}
	return out.String()
}
