package cli

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/supervise/audit"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// TestInspectorInTmux: a real proxy refuses the agent's request; the
// inspector in `bot-bottle supervise` shows the refusal; n, a save and an
// approval make the next identical request go through the same proxy, and
// the audit line names the operator, holds the route and the refusal ID.
// Refusals are red, f shows refusals only and b one bottle. The UI runs
// with its default poll, so the logged delay is what an operator sees.
func TestInspectorInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs tmux")
	}
	_, err := exec.LookPath("tmux")
	testenv.Require(t, "tmux", err == nil, "the inspector end-to-end test")
	bin := buildBinary(t)

	home := t.TempDir()
	slug := "insp-k3x9q"
	px := startLiveProxy(t, home, slug, "egress:\n  routes: []\n  log: 1\n")
	target := px.url("api.insp.test", "/v1/items/42")
	get := func() (int, string) {
		st, _, body := px.do("GET", target)
		return st, body
	}

	s := tmuxSession{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	// Colour forced: the test is also about which rows are red.
	cmdline := "env -u NO_COLOR -u CLICOLOR CLICOLOR_FORCE=1 HOME=" + home + " EDITOR=true TERM=xterm-256color " + bin + " supervise"
	if out, err := s.tmux("new-session", "-d", "-s", "bb", "-x", "160", "-y", "30", cmdline); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { s.tmux("kill-server") })
	s.waitFor("0 pending", "i inspect")
	s.send("i")
	s.waitFor("Egress decisions · all bottles", "No egress decisions yet")

	st, rid, _ := px.do("GET", target)
	if st != http.StatusForbidden || rid == "" {
		t.Fatalf("before any route: status %d, refusal ID %q", st, rid)
	}
	sent := time.Now()
	s.waitFor("api.insp.test", "/v1/items/42", "403", "refuse", "no egress route allows host api.insp.test")
	t.Logf("inspector showed the refusal %v after the request", time.Since(sent).Round(10*time.Millisecond))

	// n drafts the narrowest route; the editor (true) saves it unchanged.
	s.send("n")
	s.waitFor("your route for "+slug+" is filed", "1 pending", "allow api.insp.test")
	s.send("a")
	s.waitFor("Approve for how long?")
	s.send("Enter")
	s.waitFor("approved egress-allow from "+slug, "0 pending")

	deadline := time.Now().Add(20 * time.Second) // bounds a broken run only
	for {
		st, body := get()
		if st == http.StatusOK && body == "upstream ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the identical request is still refused: %d %s", st, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st, _, _ := px.do("POST", target); st != http.StatusForbidden {
		t.Errorf("the drafted route is wider than the request: POST = %d", st)
	}
	// The POST's refusal is the newest row, so selected; the GET's
	// refusal above it is red, the allowed GET is not.
	s.send("i")
	s.waitFor("POST", "200", "allow")
	colored, _ := s.tmux("capture-pane", "-e", "-p", "-t", "bb")
	var redRefusal, redAllow bool
	for _, l := range strings.Split(colored, "\n") {
		red := strings.Contains(l, "31m")
		redRefusal = redRefusal || (red && strings.Contains(l, "GET") && strings.Contains(l, "refuse"))
		redAllow = redAllow || (red && strings.Contains(l, "allow "))
	}
	if !redRefusal || redAllow {
		t.Errorf("refusals are not the red rows (refusal red %v, allowed red %v):\n%q", redRefusal, redAllow, colored)
	}
	s.send("f")
	if scr := s.waitFor("Egress decisions · all bottles, refused only", "POST"); strings.Contains(scr, " 200 ") {
		t.Errorf("refused only still lists the allowed request:\n%s", scr)
	}
	s.send("f")        // one key at a time: keys sent together arrive as one
	s.waitFor(" 200 ") // the allowed request is back
	s.send("b")
	s.waitFor("Egress decisions · bottle "+slug, " 200 ")
	es, err := audit.Read(audit.Path(home, slug))
	if err != nil || len(es) != 1 {
		t.Fatalf("audit = %+v, %v", es, err)
	}
	if es[0].Operator == "" || !strings.Contains(es[0].Content, "host: api.insp.test") || !strings.Contains(es[0].Content, "value: /v1/items/") || es[0].RefusalID != rid {
		t.Errorf("audit line = %+v", es[0])
	}
	s.send("q")
}
