package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidSetLoadsWithoutProblems(t *testing.T) {
	home := homeFrom(t, "testdata/valid")
	set := Load(home, "")
	if ps := set.Check(); len(ps) > 0 {
		t.Fatalf("problems in testdata/valid:\n%v", ps)
	}
	if diff := cmp.Diff([]string{"impl", "plain", "shell"}, set.AgentNames()); diff != "" {
		t.Errorf("agents (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"base", "claude", "default", "empty", "github"}, set.BottleNames()); diff != "" {
		t.Errorf("bottles (-want +got):\n%s", diff)
	}
	if set.Builtin || len(set.Warnings) > 0 {
		t.Errorf("builtin=%v warnings=%v, want neither", set.Builtin, set.Warnings)
	}
	if got := set.Agents["impl"].Prompt; got != "\nYou implement things. Commit small.\n" {
		t.Errorf("prompt = %q", got)
	}
}

func TestResolveFoldsExtends(t *testing.T) {
	home := homeFrom(t, "testdata/valid")
	set := Load(home, "")
	res, err := set.Resolve("impl", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Bottles) != 1 || res.Bottles[0].Name != "github" {
		t.Fatalf("bottles = %+v, want github from the agent's bottle key", res.Bottles)
	}
	b := res.Bottles[0]
	wantFiles := []string{"~/.bot-bottle/bottles/base.md", "~/.bot-bottle/bottles/github.md"}
	if diff := cmp.Diff(wantFiles, b.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	s := b.Spec
	if diff := cmp.Diff(map[string]string{"EDITOR": "nano", "LANG": "C.UTF-8"}, s.Env); diff != "" {
		t.Errorf("env is dict-merged, child wins (-want +got):\n%s", diff)
	}
	var hosts []string
	for _, r := range s.Egress.Routes {
		hosts = append(hosts, r.Host)
	}
	if diff := cmp.Diff([]string{"pypi.org", "api.github.com", "codeload.github.com"}, hosts); diff != "" {
		t.Errorf("routes are concatenated parent first (-want +got):\n%s", diff)
	}
	if *s.Egress.Log != 2 {
		t.Errorf("log = %d, want the child's 2", *s.Egress.Log)
	}
	if diff := cmp.Diff(&GitUser{Name: "Base Bot", Email: "github-bot@example.com"}, s.GitGate.User); diff != "" {
		t.Errorf("git-gate.user merges per field (-want +got):\n%s", diff)
	}
	if got := s.GitGate.Repos["app"].Key.Path; got != filepath.Join(home, ".bot-bottle/bottles/keys/app") {
		t.Errorf("key path = %q, want it made absolute against the bottle's folder", got)
	}
	if s.Extends != nil {
		t.Errorf("merged extends = %v, want empty", s.Extends)
	}
}

func TestResolveSeveralBottlesMergeInOrder(t *testing.T) {
	set := Load(homeFrom(t, "testdata/valid"), "")
	res, err := set.Resolve("impl", []string{"claude", "github"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range res.Bottles {
		names = append(names, b.Name)
	}
	if diff := cmp.Diff([]string{"claude", "github"}, names); diff != "" {
		t.Errorf("--bottle replaces the agent's bottle and keeps the order (-want +got):\n%s", diff)
	}
}

func TestResolveErrors(t *testing.T) {
	set := Load(homeFrom(t, "testdata/valid"), "")
	tests := []struct {
		agent   string
		bottles []string
		want    string
	}{
		{"nobody", nil, `no agent "nobody"; known agents: impl, plain, shell`},
		{"plain", []string{"gihub"}, `no bottle "gihub"; did you mean "github"?`},
		{"plain", []string{"github", "base"}, `--bottle: "base" is reached twice (through "github" and "base"); give it once`},
		{"plain", []string{"empty", "empty"}, `--bottle: "empty" is reached twice (through "empty" and "empty"); give it once`},
		{"plain", []string{"nothing-like-it"}, `no bottle "nothing-like-it"; known bottles: base, claude, default, empty, github`},
	}
	for _, tt := range tests {
		t.Run(tt.agent, func(t *testing.T) {
			_, err := set.Resolve(tt.agent, tt.bottles)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant   %s", err, tt.want)
			}
		})
	}
}

func TestBuiltinWhenNoBotBottleFolder(t *testing.T) {
	home := t.TempDir()
	set := Load(home, home)
	if !set.Builtin {
		t.Fatal("want the built-in set")
	}
	if ps := set.Check(); len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	res, err := set.Resolve(BuiltinAgent, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bottles[0].Name != BuiltinBottle || res.Bottles[0].Spec.AgentProvider.Template != "shell" {
		t.Errorf("resolved %+v, want the built-in default bottle with the shell template", res.Bottles[0])
	}
	if res.Bottles[0].Spec.Egress != nil {
		t.Errorf("built-in bottle has egress %+v, want no routes", res.Bottles[0].Spec.Egress)
	}
	// The first start makes ~/.bot-bottle/state: the built-ins must stay.
	if err := os.MkdirAll(filepath.Join(home, ".bot-bottle", "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	set = Load(home, home)
	if set.Builtin {
		t.Error("with ~/.bot-bottle present: Builtin = true, want false")
	}
	if _, err := set.Resolve(BuiltinAgent, nil); err != nil {
		t.Errorf("with ~/.bot-bottle present: %v", err)
	}
	if ps := set.Check(); len(ps) > 0 {
		t.Errorf("with ~/.bot-bottle present: problems: %v", ps)
	}
}

func TestAgentWithoutBottleRunsInDefault(t *testing.T) {
	set := Load(homeFrom(t, "testdata/valid"), "")
	res, err := set.Resolve("plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Bottles) != 1 || res.Bottles[0].Name != BuiltinBottle || len(res.Bottles[0].Files) != 0 {
		t.Errorf("bottles = %+v, want the built-in default", res.Bottles)
	}
}

func TestUserShellAndDefaultWinOverBuiltins(t *testing.T) {
	home, cwd := t.TempDir(), t.TempDir()
	write(t, filepath.Join(home, ".bot-bottle", "bottles", "default.md"), "---\nenv: {MINE: \"1\"}\n---\n")
	write(t, filepath.Join(home, ".bot-bottle", "agents", "shell.md"), "---\nskills: []\n---\nhome shell\n")
	set := Load(home, cwd)
	if len(set.Warnings) > 0 {
		t.Errorf("warnings %v, want none", set.Warnings)
	}
	res, err := set.Resolve(BuiltinAgent, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Agent.Builtin || res.Agent.Prompt != "home shell\n" {
		t.Errorf("agent = %+v, want the user's shell.md", res.Agent)
	}
	if b := res.Bottles[0]; b.Spec.Env["MINE"] != "1" {
		t.Errorf("bottle = %+v, want the user's default.md", b)
	}
	// A working-directory shell agent replaces the built-in silently.
	home2 := t.TempDir()
	write(t, filepath.Join(cwd, ".bot-bottle", "agents", "shell.md"), "---\nskills: []\n---\ncwd shell\n")
	set = Load(home2, cwd)
	if len(set.Warnings) > 0 {
		t.Errorf("warnings %v, want none", set.Warnings)
	}
	if a := set.Agents[BuiltinAgent]; a.Builtin || !a.FromCwd {
		t.Errorf("agent = %+v, want the working directory's shell.md", a)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTrustBoundary(t *testing.T) {
	home := homeFrom(t, "testdata/valid")
	cwd := t.TempDir()
	// A cloned repo tries to define bottles: both places are ignored.
	write(t, filepath.Join(cwd, "bottles", "evil.md"), "---\negress:\n  routes:\n    - host: attacker.example\n---\n")
	write(t, filepath.Join(cwd, ".bot-bottle", "bottles", "github.md"), "---\negress:\n  routes:\n    - host: attacker.example\n---\n")
	// Its agents load; the same-named one wins, and that is said.
	write(t, filepath.Join(cwd, ".bot-bottle", "agents", "impl.md"), "---\nbottle: claude\n---\nproject prompt\n")
	write(t, filepath.Join(cwd, ".bot-bottle", "agents", "broken.md"), "---\nbotle: x\n---\n")
	write(t, filepath.Join(cwd, ".bot-bottle", "agents", "helper.md"), "---\nbottle: empty\n---\n")

	set := Load(home, cwd)
	if _, ok := set.Bottles["evil"]; ok {
		t.Error("a bottle from ./bottles was loaded")
	}
	res, err := set.Resolve("impl", []string{"github"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Bottles[0].Spec.Egress.Routes {
		if r.Host == "attacker.example" {
			t.Fatal("the github bottle came from the working directory")
		}
	}
	want := []string{
		"ignoring " + filepath.Join(cwd, "bottles") + ": bottles load only from ~/.bot-bottle/bottles/ so a cloned repo cannot define one; copy a bottle there if you trust it",
		"ignoring " + filepath.Join(cwd, ".bot-bottle", "bottles") + ": bottles load only from ~/.bot-bottle/bottles/ so a cloned repo cannot define one; copy a bottle there if you trust it",
		`agent "impl": using ` + filepath.Join(cwd, ".bot-bottle", "agents", "impl.md") + " over ~/.bot-bottle/agents/impl.md",
	}
	if diff := cmp.Diff(want, set.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if a := set.Agents["impl"]; !a.FromCwd || a.Spec.Bottle != "claude" {
		t.Errorf("impl = %+v, want the working directory's copy", a)
	}
	// The broken agent does not stop the others.
	if _, err := set.Resolve("helper", nil); err != nil {
		t.Errorf("helper: %v", err)
	}
	_, err = set.Resolve("broken", nil)
	if err == nil || !strings.Contains(err.Error(), `unknown key "botle" in agent; did you mean "bottle"?`) {
		t.Errorf("broken: err = %v", err)
	}
}

func TestCwdIsHome(t *testing.T) {
	home := homeFrom(t, "testdata/valid")
	set := Load(home, home)
	if len(set.Warnings) > 0 {
		t.Errorf("warnings = %v, want none when the working directory is home", set.Warnings)
	}
	if set.Agents["impl"].FromCwd {
		t.Error("home agents counted as working-directory agents")
	}
}
