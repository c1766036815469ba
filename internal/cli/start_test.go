package cli

import (
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/plan"
)

func TestStartDryRunOnAFreshMachine(t *testing.T) {
	home := t.TempDir()
	out, errOut, code := execCLI(t, home, home, nil, "start", "--dry-run")
	if code != 0 || errOut != "" {
		t.Fatalf("code=%d stderr=%q", code, errOut)
	}
	for _, want := range []string{
		"shell in default (dry run: nothing launched)",
		"agent       shell (built-in)",
		"egress      no routes: every request is refused",
		"sidecar     daemons egress,supervise,dns",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// The first start makes ~/.bot-bottle/state; the second must still find
// the built-in shell agent and default bottle.
func TestStartBuiltinAfterStateExists(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".bot-bottle/state/shell-abc123/metadata.json"), `{"slug":"shell-abc123","agent":"shell","bottles":["default"]}`)
	out, errOut, code := execCLI(t, home, home, nil, "start", "--dry-run")
	if code != 0 || errOut != "" || !strings.Contains(out, "agent       shell (built-in)") {
		t.Fatalf("code=%d stderr=%q stdout:\n%s", code, errOut, out)
	}
}

// --dry-run shows what launch uses: the provider's own API route, its
// token slot and its agent env, not only the manifest's.
func TestStartDryRunShowsProviderRoute(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".bot-bottle/bottles/claude.md"), "---\nagent_provider:\n  template: claude\n  auth_token: ANTHROPIC_API_KEY\n---\n")
	environ := []string{"ANTHROPIC_API_KEY=sk-ant-api03-theSecretValue"}
	out, errOut, code := execCLI(t, home, home, environ, "start", "--bottle", "claude", "--dry-run")
	if code != 0 {
		t.Fatalf("code=%d stderr=%q", code, errOut)
	}
	for _, want := range []string{
		"1. api.anthropic.com, auth x-api-key: $ANTHROPIC_API_KEY, on match redact",
		"secrets $ANTHROPIC_API_KEY",
		"SSL_CERT_FILE=/etc/bot-bottle/ca/ca.pem",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text plan lacks %q:\n%s", want, out)
		}
	}
	out, _, code = execCLI(t, home, home, environ, "start", "--bottle", "claude", "--dry-run", "--format", "json")
	var p plan.Bottle
	if err := json.Unmarshal([]byte(out), &p); code != 0 || err != nil {
		t.Fatalf("code=%d json: %v", code, err)
	}
	if len(p.Egress.Routes) != 1 || p.Egress.Routes[0].Host != "api.anthropic.com" || len(p.Sidecar.Routes) != 1 {
		t.Errorf("json routes = %+v, sidecar %+v; want the provider's api.anthropic.com", p.Egress.Routes, p.Sidecar.Routes)
	}
	if strings.Contains(out, "theSecretValue") {
		t.Error("the token value appears in the plan")
	}
}

func TestStartFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"start", "--prompt", "x"}, "bot-bottle: --prompt needs --headless\n"},
		{[]string{"start", "--headless"}, "bot-bottle: --headless needs --prompt TEXT\n"},
		{[]string{"resume", "x", "--prompt", "y"}, "bot-bottle: --prompt needs --headless\n"},
		{[]string{"start", "--format", "json"}, "bot-bottle: --format json prints the plan: add --dry-run (nothing was launched)\n"},
		{[]string{"start", "--rm", "--keep"}, "bot-bottle: --rm and --keep contradict each other: --rm leaves nothing, --keep leaves the containers\n"},
		{[]string{"exec", "../x"}, "bot-bottle: \"../x\" is not a bottle slug (bot-bottle list shows them)\n"},
		{[]string{"rm", "Not-A-Slug"}, "bot-bottle: \"Not-A-Slug\" is not a bottle slug (bot-bottle list shows them)\n"},
		{[]string{"exec"}, "bot-bottle: requires at least 1 arg(s), only received 0\n"},
	} {
		_, errOut, code := execCLI(t, t.TempDir(), "", nil, tt.args...)
		if code != 2 || errOut != tt.want {
			t.Errorf("%v: code=%d stderr=%q, want 2 %q", tt.args, code, errOut, tt.want)
		}
	}
}

func githubHome(t *testing.T) string {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".bot-bottle/bottles/github.md"), `---
egress:
  routes:
    - host: api.github.com
      auth: {scheme: Bearer, token_ref: GITHUB_TOKEN}
---
`)
	writeFile(t, filepath.Join(home, ".bot-bottle/bottles/extra.md"), "---\nenv: {EXTRA: \"1\"}\n---\n")
	writeFile(t, filepath.Join(home, ".bot-bottle/agents/impl.md"), "---\nbottle: github\n---\nprompt\n")
	return home
}

func TestStartDryRunNeverShowsSecretValues(t *testing.T) {
	home := githubHome(t)
	environ := []string{"GITHUB_TOKEN=ghp_thisIsTheSecretValue000000000000000", "PATH=/bin"}
	for _, format := range []string{"text", "json"} {
		out, errOut, code := execCLI(t, home, home, environ, "start", "impl", "--dry-run", "--format", format)
		if code != 0 {
			t.Fatalf("%s: code=%d stderr=%q", format, code, errOut)
		}
		if strings.Contains(out+errOut, "thisIsTheSecretValue") {
			t.Errorf("%s: the token value appears in the output", format)
		}
		if format == "text" && !strings.Contains(out, "auth Authorization: Bearer $GITHUB_TOKEN") {
			t.Errorf("text plan does not name the slot $GITHUB_TOKEN:\n%s", out)
		}
	}
}

func TestStartDryRunJSON(t *testing.T) {
	home := githubHome(t)
	environ := []string{"GITHUB_TOKEN=x"}
	out, _, code := execCLI(t, home, home, environ, "start", "impl", "--dry-run", "--format", "json", "--bottle", "github", "--bottle", "extra")
	if code != 0 {
		t.Fatalf("code=%d", code)
	}
	var p plan.Bottle
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("output is not a plan: %v\n%s", err, out)
	}
	if p.Schema != plan.SchemaVersion || !regexp.MustCompile(`^impl-[a-z0-9]{5}$`).MatchString(p.Slug) {
		t.Errorf("schema=%d slug=%q", p.Schema, p.Slug)
	}
	if strings.Join(p.Bottles, ",") != "github,extra" || p.AgentEnv["EXTRA"] != "1" {
		t.Errorf("bottles=%v EXTRA=%q: --bottle merges in order", p.Bottles, p.AgentEnv["EXTRA"])
	}
	if p.StateDir != filepath.Join(home, ".bot-bottle/state", p.Slug) {
		t.Errorf("state dir = %q", p.StateDir)
	}
}

func TestStartMissingTokenExits1(t *testing.T) {
	home := githubHome(t)
	_, errOut, code := execCLI(t, home, home, []string{"GITHUB_TOKEN="}, "start", "impl")
	want := "bot-bottle: egress route 1 (api.github.com) token_ref: env var GITHUB_TOKEN is not set; export it before start (its value goes only to the sidecar)\n"
	if code != 1 || errOut != want {
		t.Errorf("code=%d stderr=%q\nwant %q", code, errOut, want)
	}
}

// A dry run still prints the plan when a token is not set, marking it
// missing, so a new user sees what start would do before exporting it.
func TestStartDryRunMarksMissingToken(t *testing.T) {
	home := githubHome(t)
	out, errOut, code := execCLI(t, home, home, []string{"GITHUB_TOKEN="}, "start", "impl", "--dry-run")
	if code != 0 || !strings.Contains(out, "missing $GITHUB_TOKEN (not set: start refuses until you export it)") {
		t.Errorf("code=%d stderr=%q stdout:\n%s", code, errOut, out)
	}
	if want := "bot-bottle: warning: egress route 1 (api.github.com) token_ref: env var GITHUB_TOKEN is not set; export it before start (its value goes only to the sidecar)\n"; errOut != want {
		t.Errorf("stderr=%q\nwant %q", errOut, want)
	}
	out, _, code = execCLI(t, home, home, nil, "start", "impl", "--dry-run", "--format", "json")
	var p plan.Bottle
	if err := json.Unmarshal([]byte(out), &p); code != 0 || err != nil || !slices.Equal(p.MissingSecretEnv, []string{"GITHUB_TOKEN"}) {
		t.Errorf("json: code=%d err=%v missing=%v", code, err, p.MissingSecretEnv)
	}
}

func TestStartPrintsOneLinePerProblem(t *testing.T) {
	home := githubHome(t)
	writeFile(t, filepath.Join(home, ".bot-bottle/bottles/claude.md"), "---\nagent_provider: {template: claude, auth_token: ANTHROPIC_API_KEY}\n---\n")
	_, errOut, code := execCLI(t, home, home, nil, "start", "impl", "--bottle", "claude", "--bottle", "github")
	want := "bot-bottle: agent_provider.auth_token: env var ANTHROPIC_API_KEY is not set; export it before start (its value goes only to the sidecar)\n" +
		"bot-bottle: egress route 1 (api.github.com) token_ref: env var GITHUB_TOKEN is not set; export it before start (its value goes only to the sidecar)\n"
	if code != 1 || errOut != want {
		t.Errorf("code=%d stderr=%q\nwant %q", code, errOut, want)
	}
}

// A dynamically linked bot-bottle (go run, a plain go build) cannot be the
// sidecar: start says so before making anything, and points at
// scripts/bot-bottle.
func TestStartNeedsAStaticBinary(t *testing.T) {
	f, err := elf.Open("/bin/sh")
	if err != nil {
		t.Skipf("needs an ELF /bin/sh: %v", err)
	}
	dynamic := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
	f.Close()
	if !dynamic {
		t.Skip("needs a dynamically linked /bin/sh")
	}
	home := t.TempDir()
	environ := []string{"BOT_BOTTLE_SIDECAR_BINARY=/bin/sh"}
	_, errOut, code := execCLI(t, home, home, environ, "start", "--headless", "--prompt", "true")
	if code == 0 || !strings.Contains(errOut, "/bin/sh is dynamically linked") || !strings.Contains(errOut, "run scripts/bot-bottle") {
		t.Fatalf("code=%d stderr=%q, want the dynamic-binary error with the scripts/bot-bottle hint", code, errOut)
	}
	if entries, _ := os.ReadDir(filepath.Join(home, ".bot-bottle", "state")); len(entries) > 0 {
		t.Errorf("state made before the check: %v", entries)
	}
}

// TestStartDryRunShowsResources: the plan says the agent's limits, the
// defaults when the bottle sets none, the bottle's when it does.
func TestStartDryRunShowsResources(t *testing.T) {
	home := t.TempDir()
	out, _, code := execCLI(t, home, home, nil, "start", "--dry-run")
	if code != 0 || !strings.Contains(out, "resources   memory 4 GiB, 1024 pids, no cpu limit\n") {
		t.Errorf("defaults: code=%d\n%s", code, out)
	}
	writeFile(t, filepath.Join(home, ".bot-bottle/bottles/small.md"), "---\nresources: {memory: 512m, cpus: 0.5, pids: 128}\n---\n")
	out, _, code = execCLI(t, home, home, nil, "start", "--bottle", "small", "--dry-run")
	if code != 0 || !strings.Contains(out, "resources   memory 512 MiB, 128 pids, 0.5 cpus\n") {
		t.Errorf("bottle's resources: code=%d\n%s", code, out)
	}
	out, _, _ = execCLI(t, home, home, nil, "start", "--bottle", "small", "--dry-run", "--format", "json")
	var p plan.Bottle
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.Resources != (plan.Resources{MemoryBytes: 512 << 20, CPUs: 0.5, Pids: 128}) {
		t.Errorf("json resources %+v (%v)", p.Resources, err)
	}
}
