package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/supervise/audit"
)

// runAudit runs bot-bottle with args against home and returns the exit
// code, stdout and stderr.
func runAudit(t *testing.T, home string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Home: home, Cwd: home,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
	code := Run(context.Background(), args, env)
	return code, out.String(), errb.String()
}

func auditFixture(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	for i, slug := range []string{"impl-aaaaa", "impl-aaaaa", "docs-bbbbb"} {
		err := audit.Append(audit.Path(home, slug), audit.Entry{
			Time: time.Date(2026, 11, 26, 12, 0, i, 0, time.UTC), Bottle: slug,
			ProposalID: "00000000-0000-4000-8000-00000000000" + string(rune('1'+i)),
			Tool:       "egress-allow", Action: "approved", Notes: "fine\nby me",
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return home
}

func TestAuditPrint(t *testing.T) {
	home := auditFixture(t)
	code, out, errs := runAudit(t, home, "audit")
	if code != ExitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[1], "docs-bbbbb") ||
		!strings.Contains(lines[3], "fine by me") {
		t.Errorf("output:\n%s", out)
	}
	code, out, _ = runAudit(t, home, "audit", "impl-aaaaa", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	var n int
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e audit.Entry
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Bottle != "impl-aaaaa" {
			t.Errorf("line %q: %v", l, err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
}

func TestAuditVerify(t *testing.T) {
	home := auditFixture(t)
	code, out, _ := runAudit(t, home, "audit", "--verify")
	if code != ExitOK || !strings.Contains(out, "impl-aaaaa: ok, 2 lines") || !strings.Contains(out, "cannot detect") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// A crash mid-write leaves a half line.
	path := audit.Path(home, "impl-aaaaa")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"time":"2026-`)
	f.Close()
	code, out, _ = runAudit(t, home, "audit", "--verify")
	if code != ExitFound || !strings.Contains(out, "impl-aaaaa: FAILED: line 3") || !strings.Contains(out, "docs-bbbbb: ok") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = runAudit(t, home, "audit", "impl-aaaaa", "--verify", "--json")
	var rep verifyReport
	if code != ExitFound || json.Unmarshal([]byte(out), &rep) != nil || rep.OK || rep.Line != 3 || rep.Bottle != "impl-aaaaa" {
		t.Fatalf("exit %d: %s", code, out)
	}
	// Printing still shows the good lines and warns about the bad one.
	code, out, errs := runAudit(t, home, "audit", "impl-aaaaa")
	if code != ExitOK || strings.Count(out, "impl-aaaaa") != 2 || !strings.Contains(errs, "line 3") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr: %s", code, out, errs)
	}
}

func TestAuditErrors(t *testing.T) {
	home := auditFixture(t)
	if code, _, _ := runAudit(t, home, "audit", "../etc"); code != ExitError {
		t.Errorf("bad slug: exit %d, want %d", code, ExitError)
	}
	if code, _, errs := runAudit(t, home, "audit", "none-ccccc"); code != ExitError || errs == "" {
		t.Errorf("missing log: exit %d, stderr %q", code, errs)
	}
	code, out, _ := runAudit(t, t.TempDir(), "audit", "--verify")
	if code != ExitOK || !strings.Contains(out, "no audit logs") {
		t.Errorf("empty home: exit %d, %q", code, out)
	}
}
