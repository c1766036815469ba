package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/supervise/audit"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// tmuxSession drives the real binary in a private tmux server.
type tmuxSession struct {
	t    *testing.T
	sock string
}

func (s tmuxSession) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-S", s.sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
	return string(out), err
}

func (s tmuxSession) send(keys ...string) {
	s.t.Helper()
	if out, err := s.tmux(append([]string{"send-keys", "-t", "bb"}, keys...)...); err != nil {
		s.t.Fatalf("send-keys %v: %v: %s", keys, err, out)
	}
}

func (s tmuxSession) typeText(text string) {
	s.t.Helper()
	s.send("-l", text)
}

func (s tmuxSession) screen() string {
	out, _ := s.tmux("capture-pane", "-p", "-t", "bb")
	return out
}

// waitFor polls the screen until it shows every want. The deadline only
// bounds a broken run; passing never depends on timing.
func (s tmuxSession) waitFor(want ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		scr := s.screen()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(scr, w)
		}
		if ok {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %q; it shows:\n%s", want, scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func buildBinary(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	testenv.Require(t, "go", err == nil, "building the bot-bottle binary")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "bot-bottle")
	cmd := exec.Command(gobin, "build", "-o", bin, "./cmd/bot-bottle")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSuperviseInTmux runs `bot-bottle supervise` in a real terminal, files
// proposals as the sidecar would, and answers them with keys: an approval,
// a hold that needs a reason, and a modification in $EDITOR. --notify
// gets one JSON document per proposal.
func TestSuperviseInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs tmux")
	}
	_, err := exec.LookPath("tmux")
	testenv.Require(t, "tmux", err == nil, "the supervise UI end-to-end test")
	bin := buildBinary(t)

	home := t.TempDir()
	slug := "impl-k3x9q"
	state := filepath.Join(home, ".bot-bottle", "state", slug)
	policy := filepath.Join(state, "egress", "policy.yaml")
	mustWrite(t, policy, "egress:\n  routes:\n    - host: api.anthropic.com\n  log: 1\n")
	mustWrite(t, filepath.Join(state, "metadata.json"), `{"agent":"impl","label":"e2e run"}`)
	// The editor the operator "uses": it narrows the proposed route.
	editor := filepath.Join(home, "edit.sh")
	mustWrite(t, editor, "#!/bin/sh\nprintf -- '- host: narrow.example\\n  matches:\\n    - methods: [GET]\\n' > \"$1\"\n")
	if err := os.Chmod(editor, 0o700); err != nil {
		t.Fatal(err)
	}

	s := tmuxSession{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	notified := filepath.Join(home, "notified.jsonl")
	cmdline := "env HOME=" + home + " EDITOR=" + editor + " TERM=xterm-256color " + bin + " supervise --poll 100ms --notify 'cat >> " + notified + "'"
	if out, err := s.tmux("new-session", "-d", "-s", "bb", "-x", "100", "-y", "30", cmdline); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { s.tmux("kill-server") })
	s.waitFor("0 pending", "q quit")

	q := queue.New(filepath.Join(state, "supervise", "queue"))
	file := func(tool, text string) queue.Proposal {
		p, err := q.Submit(queue.Proposal{BottleSlug: slug, Tool: tool, ProposedFile: text, Justification: "go mod download needs it"})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// 1. An egress route: it appears without a keypress; open it, approve.
	allow := file(queue.ToolEgressAllow, "- host: proxy.golang.org\n")
	s.waitFor("1 new proposal", "allow proxy.golang.org", "e2e run")
	s.send("Enter")
	scr := s.waitFor("Live egress policy", "- host: proxy.golang.org")
	if !hasLine(scr, "+", "- host: proxy.golang.org") || !hasLine(scr, " ", "- host: api.anthropic.com") {
		t.Errorf("the diff should add proxy.golang.org to the live routes:\n%s", scr)
	}
	s.send("a")
	s.waitFor("Approve for how long?", "1  for 1 hour, this run only (default)")
	s.send("Enter")
	s.waitFor("approved egress-allow from "+slug, "0 pending")
	r, err := q.Response(allow.ID)
	if err != nil || r.Status != queue.StatusApproved {
		t.Fatalf("response = %+v, %v", r, err)
	}
	pol, _ := os.ReadFile(policy)
	if !strings.Contains(string(pol), "- host: proxy.golang.org") || !strings.Contains(string(pol), "log: 1") || !strings.Contains(string(pol), "session: true") {
		t.Errorf("policy.yaml after approval:\n%s", pol)
	}

	// 2. A held push: approving it needs a reason.
	leak := file(queue.ToolGitleaksAllow, "aws-access-token at config/dev.env:3\n")
	s.waitFor("gitleaks-allow")
	s.send("a")
	s.waitFor("Reason to approve gitleaks-allow (required)")
	s.send("Enter")
	s.waitFor("a reason is required")
	s.typeText("known test fixture")
	s.send("Enter")
	s.waitFor("approved gitleaks-allow", "0 pending")
	if r, err := q.Response(leak.ID); err != nil || r.Status != queue.StatusApproved || r.Notes != "known test fixture" {
		t.Errorf("gitleaks response = %+v, %v", r, err)
	}

	// 3. Modify: $EDITOR narrows the route; the edit is validated, then
	// answered as modified with a note.
	wide := file(queue.ToolEgressAllow, "- host: wide.example\n")
	s.waitFor("allow wide.example")
	s.send("m")
	s.waitFor("Note for the modified proposal")
	s.typeText("GET only")
	s.send("Enter")
	s.waitFor("Approve for how long?")
	s.send("4") // for good
	s.waitFor("modified egress-allow", "0 pending")
	r, err = q.Response(wide.ID)
	if err != nil || r.Status != queue.StatusModified || !strings.Contains(r.FinalFile, "narrow.example") || r.Notes != "GET only" {
		t.Errorf("modified response = %+v, %v", r, err)
	}
	pol, _ = os.ReadFile(policy)
	if !strings.Contains(string(pol), "narrow.example") || strings.Contains(string(pol), "wide.example") {
		t.Errorf("policy.yaml after modification:\n%s", pol)
	}

	es, err := audit.Read(audit.Path(home, slug))
	if err != nil || len(es) != 3 {
		t.Fatalf("audit = %+v, %v", es, err)
	}
	if es[0].ProposalID != allow.ID || es[0].Action != "approved" || es[0].BeforeHash == es[0].AfterHash {
		t.Errorf("audit line 1 = %+v", es[0])
	}
	if es[1].ProposalID != leak.ID || es[1].Notes != "known test fixture" {
		t.Errorf("audit line 2 = %+v", es[1])
	}
	if es[2].ProposalID != wide.ID || es[2].Action != "modified" {
		t.Errorf("audit line 3 = %+v", es[2])
	}
	if rep, err := audit.Verify(audit.Path(home, slug)); err != nil || !rep.OK {
		t.Errorf("audit verify = %+v, %v", rep, err)
	}

	// --notify ran once per new proposal, one JSON document each.
	raw, _ := os.ReadFile(notified)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 3 {
		t.Fatalf("--notify wrote %d documents, want 3:\n%s", len(lines), raw)
	}
	for i, p := range []queue.Proposal{allow, leak, wide} {
		var doc notifyJSON
		if err := json.Unmarshal([]byte(lines[i]), &doc); err != nil || doc.ID != p.ID || doc.Bottle != slug || doc.Tool != p.Tool || doc.Summary == "" {
			t.Errorf("--notify document %d = %s (%v)", i, lines[i], err)
		}
	}

	// q leaves the program, which ends the tmux session.
	s.send("q")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.tmux("has-session", "-t", "bb"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("q did not quit:\n%s", s.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustWrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hasLine reports whether a line of scr starts with prefix and holds text.
func hasLine(scr, prefix, text string) bool {
	for _, l := range strings.Split(scr, "\n") {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, text) {
			return true
		}
	}
	return false
}
