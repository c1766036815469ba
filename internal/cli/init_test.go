package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitWritesAStarterThatChecksClean(t *testing.T) {
	home := t.TempDir()
	custom := filepath.Join(home, ".bot-bottle/bottles/shell.md")
	writeFile(t, custom, "---\nenv: {MINE: \"1\"}\n---\n")

	out, errOut, code := execCLI(t, home, home, nil, "init")
	if code != 0 {
		t.Fatalf("code=%d stderr=%q", code, errOut)
	}
	for _, want := range []string{
		"wrote ~/.bot-bottle/agents/shell.md\n",
		"wrote ~/.bot-bottle/bottles/claude.md\n",
		"kept  ~/.bot-bottle/bottles/shell.md (already there)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if data, _ := os.ReadFile(custom); string(data) != "---\nenv: {MINE: \"1\"}\n---\n" {
		t.Errorf("init overwrote an existing bottle: %q", data)
	}
	// Everything it writes loads without problems.
	out, _, code = execCLI(t, home, home, nil, "manifest", "check")
	if code != 0 || out != "ok: 3 agents, 5 bottles, no problems\n" {
		t.Errorf("check after init: code=%d out=%q", code, out)
	}
	// And the starter plans.
	_, errOut, code = execCLI(t, home, home, nil, "start", "--dry-run")
	if code != 0 {
		t.Errorf("start --dry-run after init: code=%d stderr=%q", code, errOut)
	}
	// The README's example plans right after init, tokens not yet exported.
	out, errOut, code = execCLI(t, home, home, nil, "start", "impl", "--dry-run", "--bottle", "github", "--bottle", "claude")
	if code != 0 || !strings.Contains(out, "missing $GITHUB_TOKEN") || !strings.Contains(out, "missing $ANTHROPIC_API_KEY") {
		t.Errorf("README's start impl --dry-run after init: code=%d stderr=%q stdout:\n%s", code, errOut, out)
	}
}

func TestCompletionListsAgents(t *testing.T) {
	home := githubHome(t)
	out, _, code := execCLI(t, home, home, nil, "__complete", "start", "")
	if code != 0 || !strings.HasPrefix(out, "impl\n") {
		t.Errorf("code=%d completion=%q", code, out)
	}
	out, _, _ = execCLI(t, home, home, nil, "__complete", "start", "impl", "--bottle", "gi")
	if !strings.HasPrefix(out, "github\n") {
		t.Errorf("--bottle completion = %q", out)
	}
	out, _, code = execCLI(t, home, home, nil, "completion", "bash")
	if code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: code=%d", code)
	}
}

// TestStarterEditorExists: no starter bottle sets EDITOR, VISUAL or PAGER
// to a program the base image lacks (the shell starter once set vi; the
// base has no vi). The base's packages are scripts/seed-base-image.sh's.
func TestStarterEditorExists(t *testing.T) {
	home := t.TempDir()
	if _, errOut, code := execCLI(t, home, home, nil, "init"); code != 0 {
		t.Fatalf("init: %d %s", code, errOut)
	}
	script, err := os.ReadFile("../../scripts/seed-base-image.sh")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(script), `base_packages="`)
	pkgs, _, _ := strings.Cut(rest, `"`)
	inBase := map[string]bool{"sh": true, "cat": true}
	for _, p := range strings.Fields(pkgs) {
		inBase[p] = true
	}
	bottles, _ := filepath.Glob(filepath.Join(home, ".bot-bottle/bottles/*.md"))
	for _, b := range bottles {
		name := strings.TrimSuffix(filepath.Base(b), ".md")
		out, _, code := execCLI(t, home, home, nil, "start", "--bottle", name, "--dry-run", "--format", "json")
		var p struct {
			AgentEnv map[string]string `json:"agent_env"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &p) != nil {
			continue // a provider bottle whose token is unset; its image is not the base
		}
		for _, k := range []string{"EDITOR", "VISUAL", "PAGER"} {
			if v, ok := p.AgentEnv[k]; ok && !inBase[strings.Fields(v + " ")[0]] {
				t.Errorf("starter bottle %s sets %s=%s, which the base image lacks (it has %s)", name, k, v, pkgs)
			}
		}
	}
}
