package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/workspace"
)

func TestWorkspaceFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"start", "--respect-gitignore"},
		{"resume", "x", "--respect-gitignore"},
		{"export", "x"},
		{"diff"},
	} {
		_, errOut, code := execCLI(t, t.TempDir(), "", nil, args...)
		if code != 2 {
			t.Errorf("%v: code=%d stderr=%q, want 2", args, code, errOut)
		}
	}
}

// stoppedBottle makes the state of a bottle whose agent is agent, with no
// containers.
func stoppedBottle(t *testing.T, home, slug, agent string) string {
	t.Helper()
	dir := filepath.Join(home, ".bot-bottle", "state", slug)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := lifecycle.WriteMetadata(dir, lifecycle.Metadata{Slug: slug, Agent: agent, Bottles: []string{"default"}, Backend: "docker"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestResumeRefusesWhenTheManifestNoLongerLoads(t *testing.T) {
	home := githubHome(t)
	stoppedBottle(t, home, "impl-abcde", "impl")
	// The agent's file is broken since the last run.
	writeFile(t, filepath.Join(home, ".bot-bottle/agents/impl.md"), "---\nbottle: github\nbogus: 1\n---\n")
	_, errOut, code := execCLI(t, home, home, []string{"GITHUB_TOKEN=x"}, "resume", "impl-abcde", "--fresh-workspace", "--headless", "--prompt", "true")
	if code != 1 || !strings.Contains(errOut, "not resuming impl-abcde") || !strings.Contains(errOut, "bogus") {
		t.Errorf("code=%d stderr:\n%s\nwant exit 1 naming the bottle and the problem", code, errOut)
	}
}

// TestResumeRefusesWithoutACommit: a bottle with no committed image would
// come back with an empty /workspace, so resume says so and what to do,
// before it touches an engine; --cwd or --fresh-workspace go on.
func TestResumeRefusesWithoutACommit(t *testing.T) {
	home := githubHome(t)
	dir := stoppedBottle(t, home, "impl-abcde", "impl")
	resume := func(args ...string) (string, int) {
		_, errOut, code := execCLI(t, home, home, []string{"GITHUB_TOKEN=x"}, append([]string{"resume", "impl-abcde", "--headless", "--prompt", "true"}, args...)...)
		return errOut, code
	}
	errOut, code := resume()
	for _, want := range []string{"not resuming impl-abcde: it has no commit", "empty /workspace", `"bot-bottle commit impl-abcde"`, `"bot-bottle start impl"`, "--fresh-workspace"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("code=%d, stderr lacks %q:\n%s", code, want, errOut)
		}
	}
	if strings.Contains(errOut, "export") {
		t.Errorf("nothing was saved, yet export is offered:\n%s", errOut)
	}
	saved := workspace.StateDir(dir)
	os.MkdirAll(saved, 0o700)
	os.WriteFile(filepath.Join(saved, workspace.LastBundle), []byte("bundle"), 0o600)
	if errOut, _ := resume(); !strings.Contains(errOut, `"bot-bottle export impl-abcde DIR"`) {
		t.Errorf("the saved commits are not offered:\n%s", errOut)
	}
	// Past the check, a broken manifest is what stops it (no engine here).
	writeFile(t, filepath.Join(home, ".bot-bottle/agents/impl.md"), "---\nbottle: github\nbogus: 1\n---\n")
	for _, flag := range []string{"--fresh-workspace", "--cwd"} {
		if errOut, _ := resume(flag); strings.Contains(errOut, "no commit") || !strings.Contains(errOut, "bogus") {
			t.Errorf("resume %s was refused for want of a commit:\n%s", flag, errOut)
		}
	}
	lifecycle.WriteMetadata(dir, lifecycle.Metadata{Slug: "impl-abcde", Agent: "impl", Bottles: []string{"default"}, Image: "bot-bottle-commit:impl-abcde"})
	if errOut, _ := resume(); strings.Contains(errOut, "no commit") || !strings.Contains(errOut, "bogus") {
		t.Errorf("a committed bottle was refused:\n%s", errOut)
	}
}

func TestExportAndDiffUseWhatWasSaved(t *testing.T) {
	home := t.TempDir()
	dir := stoppedBottle(t, home, "shell-abcde", "shell")
	if code := mustNoBottle(t, home, "export", "shell-nope", t.TempDir()); code != 1 {
		t.Errorf("export of an unknown bottle: exit %d, want 1", code)
	}
	if err := workspace.WriteBase(dir, workspace.Base{Source: home}); err != nil {
		t.Fatal(err)
	}
	saved := workspace.StateDir(dir)
	os.WriteFile(filepath.Join(saved, workspace.LastDiff), []byte("diff --git a/x b/x\n+\x1b[2Jhello\n"), 0o600)
	out, errOut, code := execCLI(t, home, home, nil, "diff", "shell-abcde")
	if code != 0 || out != "diff --git a/x b/x\n+\uFFFD[2Jhello\n" || !strings.Contains(errOut, "not running") {
		t.Errorf("diff from the saved file: code=%d out=%q err=%q", code, out, errOut)
	}
	_, errOut, code = execCLI(t, home, home, nil, "export", "shell-abcde", t.TempDir())
	if code != 2 || !strings.Contains(errOut, "nothing was saved") {
		t.Errorf("export with nothing saved: code=%d err=%q", code, errOut)
	}
	// A saved bundle that is no bundle fails the check: exit 1.
	os.WriteFile(filepath.Join(saved, workspace.LastBundle), []byte("# v2 git bundle\nnope\n\n"), 0o600)
	dest := t.TempDir()
	_, errOut, code = execCLI(t, home, home, nil, "export", "shell-abcde", dest)
	if code != 1 || !strings.Contains(errOut, "not a git bundle") {
		t.Errorf("export of a bad bundle: code=%d err=%q", code, errOut)
	}
	if entries, _ := os.ReadDir(dest); len(entries) != 0 {
		t.Errorf("a refused bundle left files: %v", entries)
	}
}

func mustNoBottle(t *testing.T, home string, args ...string) int {
	t.Helper()
	_, _, code := execCLI(t, home, home, nil, args...)
	return code
}
