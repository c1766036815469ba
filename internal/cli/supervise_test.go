package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/audit"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

func testEnv(home string) (Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil },
		Home: home, Cwd: home,
	}, &out, &errb
}

func submit(t *testing.T, home, slug, tool, file string) queue.Proposal {
	t.Helper()
	p, err := queue.New(filepath.Join(home, ".bot-bottle", "state", slug, "supervise", "queue")).Submit(queue.Proposal{
		BottleSlug: slug, Tool: tool, ProposedFile: file, Justification: "need it",
		ArrivalTimestamp: time.Now().Add(-time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSuperviseScripted(t *testing.T) {
	home := t.TempDir()
	mustWrite(t, filepath.Join(home, ".bot-bottle", "state", "impl-k3x9q", "egress", "policy.yaml"), "egress:\n  routes: []\n")
	allow := submit(t, home, "impl-k3x9q", queue.ToolEgressAllow, "- host: example.com\n")
	leak := submit(t, home, "review-a1b2c", queue.ToolGitleaksAllow, "aws-access-token at a.env:1\n")
	withAuth := submit(t, home, "review-a1b2c", queue.ToolEgressAllow, "- host: evil.example\n  auth:\n    scheme: Bearer\n    token_ref: GH_TOKEN\n")

	run := func(args ...string) (int, string, string) {
		env, out, errb := testEnv(home)
		code := Run(context.Background(), args, env)
		return code, out.String(), errb.String()
	}

	code, out, _ := run("supervise", "list", "--json")
	var listed []pendingJSON
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 3 {
		t.Fatalf("list --json = %d %q", code, out)
	}
	if code, out, _ := run("supervise", "--once"); code != 0 || !strings.Contains(out, allow.ID) || !strings.Contains(out, "allow example.com") {
		t.Errorf("--once = %d %q", code, out)
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"supervise", "approve", "not-an-id"}, 2},
		{[]string{"supervise", "approve", "00000000-0000-4000-8000-000000000000"}, 1},
		{[]string{"supervise", "approve", leak.ID}, 2},     // needs --reason
		{[]string{"supervise", "approve", withAuth.ID}, 1}, // operator-only key
		{[]string{"supervise", "approve", allow.ID, "extra"}, 2},
		{[]string{"supervise", "approve", allow.ID, "--reason", "fine"}, 0},
		{[]string{"supervise", "approve", allow.ID}, 1}, // already answered
		{[]string{"supervise", "approve", leak.ID, "--reason", "test key"}, 0},
		{[]string{"supervise", "reject", withAuth.ID, "--json"}, 0},
	} {
		if code, out, errs := run(tc.args...); code != tc.code {
			t.Errorf("%v = %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, tc.code, out, errs)
		}
	}

	if code, out, _ := run("supervise", "list"); code != 0 || strings.TrimSpace(out) != "no pending proposals" {
		t.Errorf("list after answering = %d %q", code, out)
	}
	r, err := queue.New(filepath.Join(home, ".bot-bottle", "state", "impl-k3x9q", "supervise", "queue")).Response(allow.ID)
	if err != nil || r.Status != "approved" || r.Notes != "fine" {
		t.Errorf("response = %+v %v", r, err)
	}
	pol, _ := os.ReadFile(filepath.Join(home, ".bot-bottle", "state", "impl-k3x9q", "egress", "policy.yaml"))
	if !strings.Contains(string(pol), "host: example.com") {
		t.Errorf("policy.yaml = %q", pol)
	}
	es, err := audit.Read(audit.Path(home, "review-a1b2c"))
	if err != nil || len(es) != 2 || es[0].Action != "approved" || es[0].Notes != "test key" || es[1].Action != "rejected" {
		t.Errorf("audit = %+v %v", es, err)
	}
}

func TestEditorCommand(t *testing.T) {
	for _, tc := range []struct {
		visual, editor string
		want           string
	}{
		{"", "", "vi"},
		{"", "code -w", "code|-w"},
		{"nvim", "nano", "nvim"},
	} {
		env, _, _ := testEnv("")
		env.Getenv = func(k string) string { return map[string]string{"VISUAL": tc.visual, "EDITOR": tc.editor}[k] }
		if got := strings.Join(editorCommand(env), "|"); got != tc.want {
			t.Errorf("editor(%q, %q) = %q, want %q", tc.visual, tc.editor, got, tc.want)
		}
	}
}

func TestPrintPendingQuotesAgentText(t *testing.T) {
	home := t.TempDir()
	submit(t, home, "impl-k3x9q", queue.ToolGitleaksAllow, "found\x1b[2J here\n")
	env, out, _ := testEnv(home)
	if code := Run(context.Background(), []string{"supervise", "--once"}, env); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(out.String(), "\x1b") || !strings.Contains(out.String(), `"found\x1b[2J here"`) {
		t.Errorf("--once printed %q", out.String())
	}
}

// supervise approve --ttl --uses --method --path-prefix scopes the route
// in the live policy and the audit line records the limits.
func TestSuperviseApproveLimits(t *testing.T) {
	home := t.TempDir()
	pol := filepath.Join(home, ".bot-bottle", "state", "impl-k3x9q", "egress", "policy.yaml")
	mustWrite(t, pol, "egress:\n  routes: []\n")
	p := submit(t, home, "impl-k3x9q", queue.ToolEgressAllow, "- host: example.com\n")
	env, out, errb := testEnv(home)
	code := Run(context.Background(), []string{"supervise", "approve", p.ID, "--ttl", "1h", "--uses", "10", "--session", "--method", "GET", "--path-prefix", "/v1/"}, env)
	if code != 0 || !strings.Contains(out.String(), "scoped: ttl 1h0m0s; 10 uses; this run only; methods GET; path prefixes /v1/ (grant g-"+p.ID[:8]+")") {
		t.Fatalf("approve = %d %q %q", code, out, errb)
	}
	b, _ := os.ReadFile(pol)
	for _, want := range []string{"id: g-" + p.ID[:8], "expires:", "uses: 10", "session: true", "- GET", "value: /v1/"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("live policy lacks %q:\n%s", want, b)
		}
	}
	es, err := audit.Read(audit.Path(home, "impl-k3x9q"))
	if err != nil || len(es) != 1 || es[0].Limits != "ttl 1h0m0s; 10 uses; this run only; methods GET; path prefixes /v1/" {
		t.Errorf("audit: %+v %v", es, err)
	}
	env, out, _ = testEnv(home)
	if code := Run(context.Background(), []string{"audit", "show", "impl-k3x9q"}, env); code != 0 {
		t.Fatalf("audit show = %d", code)
	}
	for _, want := range []string{"approved egress-allow", "operator: " + es[0].Operator, "limits:   ttl 1h0m0s; 10 uses", "    - host: example.com", "        id: g-" + p.ID[:8]} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("audit show lacks %q:\n%s", want, out)
		}
	}
	if es[0].Operator == "" {
		t.Error("no operator recorded")
	}
	env, out, _ = testEnv(home)
	if code := Run(context.Background(), []string{"audit", "--verify", "impl-k3x9q"}, env); code != 0 || !strings.Contains(out.String(), "ok, 1 lines") {
		t.Errorf("audit --verify = %d %s", code, out)
	}
}

// list shows how many proposals wait per bottle.
func TestListShowsPendingCount(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".bot-bottle", "state", "impl-abcde")
	if err := lifecycle.WriteMetadata(dir, lifecycle.Metadata{Slug: "impl-abcde", Agent: "impl"}); err != nil {
		t.Fatal(err)
	}
	submit(t, home, "impl-abcde", queue.ToolEgressAllow, "- host: a.example\n")
	submit(t, home, "impl-abcde", queue.ToolEgressAllow, "- host: b.example\n")
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(home, "no-such.sock"))
	noPodman := []string{"CONTAINER_HOST=unix://" + filepath.Join(home, "no-such-podman.sock")}
	out, errOut, code := execCLI(t, home, home, noPodman, "list", "--json")
	var rows []bottleRow
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Pending != 2 {
		t.Fatalf("list --json: %d %s %s", code, out, errOut)
	}
	out, _, _ = execCLI(t, home, home, noPodman, "list")
	if !strings.Contains(out, "PENDING") || !strings.Contains(out, " 2 ") {
		t.Errorf("list table lacks the pending count:\n%s", out)
	}
}

// --notify runs its command once per new proposal with the summary as
// JSON on stdin.
func TestSuperviseNotify(t *testing.T) {
	home := t.TempDir()
	got := filepath.Join(home, "notified.jsonl")
	a := submit(t, home, "impl-k3x9q", queue.ToolEgressAllow, "- host: a.example\n")
	n := newNotifier("cat >> " + got)
	s := sweeping{&apply.Operator{Home: home}, n}
	s.Pending()
	s.Pending() // no new proposal: no second run
	b := submit(t, home, "impl-k3x9q", queue.ToolEgressAllow, "- host: b.example\n")
	if _, errs := s.Pending(); len(errs) != 0 {
		t.Fatal(errs)
	}
	raw, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d notifications, want 2:\n%s", len(lines), raw)
	}
	for i, id := range []string{a.ID, b.ID} {
		var doc notifyJSON
		if err := json.Unmarshal([]byte(lines[i]), &doc); err != nil || doc.ID != id || doc.Bottle != "impl-k3x9q" || doc.Tool != queue.ToolEgressAllow || !strings.Contains(doc.Summary, ".example") {
			t.Errorf("notification %d: %s (%v)", i, lines[i], err)
		}
	}
	// The flag reaches the command: --once with --notify.
	c := submit(t, home, "impl-k3x9q", queue.ToolEgressAllow, "- host: c.example\n")
	env, _, errb := testEnv(home)
	if code := Run(context.Background(), []string{"supervise", "--once", "--notify", "cat >> " + got + ".once"}, env); code != 0 {
		t.Fatalf("--once --notify = %d %s", code, errb)
	}
	if raw, _ := os.ReadFile(got + ".once"); strings.Count(string(raw), "\n") != 3 || !strings.Contains(string(raw), c.ID) {
		t.Errorf("--once --notify wrote:\n%s", raw)
	}
}

// A headless start prints one line per proposal its agent files.
func TestHeadlessStartAnnouncesProposals(t *testing.T) {
	home := t.TempDir()
	var buf testenv.LockedBuffer
	stop := watchProposals(context.Background(), &buf, home, "impl-k3x9q", time.Hour)
	submit(t, home, "impl-k3x9q", queue.ToolEgressAllow, "- host: a.example\n")
	submit(t, home, "other-b1b2c", queue.ToolEgressAllow, "- host: other.example\n")
	stop() // the last look finds it
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "impl-k3x9q: allow a.example") || !strings.Contains(out, "waiting for a human: bot-bottle supervise") {
		t.Errorf("stderr:\n%s", out)
	}
}

// TestSuperviseWithoutATerminal: with pipes instead of a terminal the UI
// is not started; the user is told what works without one.
func TestSuperviseWithoutATerminal(t *testing.T) {
	env, out, errb := testEnv(t.TempDir())
	code := Run(context.Background(), []string{"supervise"}, env)
	if code == 0 || !strings.Contains(errb.String(), "the UI needs a terminal") || !strings.Contains(errb.String(), "supervise list") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if strings.Contains(errb.String(), "epoll") || out.Len() != 0 {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
}
