package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// execCLI runs bot-bottle with args in a test Env: home and cwd as given,
// environ as the process environment. It returns stdout, stderr and the
// exit code.
func execCLI(t *testing.T, home, cwd string, environ []string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := Env{
		Stdin:  strings.NewReader(""),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(k string) string {
			for _, kv := range environ {
				if name, v, _ := strings.Cut(kv, "="); name == k {
					return v
				}
			}
			return ""
		},
		Environ: func() []string { return environ },
		Home:    home,
		Cwd:     cwd,
	}
	code := Run(context.Background(), args, env)
	return out.String(), errOut.String(), code
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestManifestCheck(t *testing.T) {
	home := t.TempDir()
	out, errOut, code := execCLI(t, home, home, nil, "manifest", "check")
	if code != 0 || out != "ok: no ~/.bot-bottle, so the built-in shell agent and default bottle are used (bot-bottle init writes a starter)\n" || errOut != "" {
		t.Errorf("fresh machine: code=%d out=%q err=%q", code, out, errOut)
	}

	writeFile(t, filepath.Join(home, ".bot-bottle/bottles/ok.md"), "---\n---\n")
	writeFile(t, filepath.Join(home, ".bot-bottle/agents/a.md"), "---\nbottle: ok\n---\n")
	out, _, code = execCLI(t, home, home, nil, "manifest", "check")
	if code != 0 || out != "ok: 1 agent, 1 bottle, no problems\n" {
		t.Errorf("valid: code=%d out=%q", code, out)
	}

	writeFile(t, filepath.Join(home, ".bot-bottle/bottles/bad.md"), "---\negress:\n  routes:\n    - hots: x\n---\n")
	writeFile(t, filepath.Join(home, ".bot-bottle/agents/b.md"), "---\nsupervise: true\n---\n")
	out, errOut, code = execCLI(t, home, home, nil, "manifest", "check")
	wantOut := "~/.bot-bottle/agents/b.md:2: \"supervise\" was removed: every bottle is supervised now; delete the key\n" +
		"~/.bot-bottle/bottles/bad.md:4: egress.routes[0]: unknown key \"hots\" in egress route; did you mean \"host\"?\n"
	if code != 1 || out != wantOut || errOut != "bot-bottle: 2 problems\n" {
		t.Errorf("invalid: code=%d\nout=%q\nwant %q\nerr=%q", code, out, wantOut, errOut)
	}

	out, _, code = execCLI(t, home, home, nil, "manifest", "check", "--json")
	var rep checkReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if code != 1 || rep.OK || len(rep.Problems) != 2 || rep.Problems[1].Line != 4 || rep.Problems[1].File != "~/.bot-bottle/bottles/bad.md" {
		t.Errorf("--json: code=%d report=%+v", code, rep)
	}
}

func TestManifestCheckWarnsAboutCwdBottles(t *testing.T) {
	home, cwd := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(cwd, "bottles/x.md"), "---\n---\n")
	_, errOut, code := execCLI(t, home, cwd, nil, "manifest", "check")
	want := "bot-bottle: warning: ignoring " + filepath.Join(cwd, "bottles") + ": bottles load only from ~/.bot-bottle/bottles/ so a cloned repo cannot define one; copy a bottle there if you trust it\n"
	if code != 0 || errOut != want {
		t.Errorf("code=%d stderr=%q\nwant %q", code, errOut, want)
	}
}

func TestUsageErrorsExit2WithoutStackTraces(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{
		{"manifest", "check", "--nope"},
		{"start", "--dry-run", "--format", "yaml"},
		{"start", "a", "b", "--dry-run"},
		{"start", "--headless"},
	} {
		_, errOut, code := execCLI(t, home, home, nil, args...)
		if code != 2 || strings.Count(errOut, "\n") != 1 || strings.Contains(errOut, "goroutine") {
			t.Errorf("%v: code=%d stderr=%q, want exit 2 and one line", args, code, errOut)
		}
	}
}
