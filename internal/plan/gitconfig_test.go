package plan

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// TestGitConfigRewritesEverySpelling runs real git with the plan's insteadOf
// rules: every spelling of an upstream, an absolute scp path included, must
// reach the gate (here a local bare repo), never the upstream itself (whose
// ssh is "false", so a missed rewrite fails).
func TestGitConfigRewritesEverySpelling(t *testing.T) {
	_, err := exec.LookPath("git")
	testenv.Require(t, "git", err == nil, "git is not installed")
	gate := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", "--bare", filepath.Join(gate, "x.git")).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	for _, url := range []string{"root@h.invalid:/repos/x.git", "h.invalid:/srv/x", "git@h.invalid:org/x.git", "ssh://git@h.invalid:2222/org/x"} {
		entries := GitConfig("file://"+gate, manifest.GitUser{}, []Repo{{Name: "x", URL: url}})
		u, err := manifest.ParseSSHURL(url)
		if err != nil {
			t.Fatal(err)
		}
		for _, spelling := range append(u.Forms(), url) {
			args := []string{}
			for _, e := range entries {
				args = append(args, "-c", e.Key+"="+e.Value)
			}
			cmd := exec.Command("git", append(args, "ls-remote", spelling)...)
			cmd.Env = append(os.Environ(), "GIT_SSH_COMMAND=false", "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("upstream %q: git ls-remote %q does not reach the gate: %v: %s", url, spelling, err, out)
			}
		}
	}
}
