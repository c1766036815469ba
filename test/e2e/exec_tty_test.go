package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// TestExecOnATerminal: `bot-bottle exec SLUG` from a real terminal (tmux)
// gives a shell on a terminal in the agent, as the agent's user, that
// takes typed commands and ends with exit.
func TestExecOnATerminal(t *testing.T) {
	e := setup(t)
	_, err := exec.LookPath("tmux")
	testenv.Require(t, "tmux", err == nil, "a terminal for exec")
	home := t.TempDir()
	if stdout, stderr, rc := runBottleBottle(t, e, home, "start", "--keep", "--headless", "--prompt", "true"); rc != 0 {
		t.Fatalf("start --keep: exit %d %s%s", rc, stdout, stderr)
	}
	slug := onlySlug(t, home)
	t.Cleanup(func() { runBottleBottle(t, e, home, "rm", "--force", slug) })

	sock := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) string {
		out, _ := exec.Command("tmux", append([]string{"-S", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		return string(out)
	}
	t.Cleanup(func() { tmux("kill-server") })
	done := filepath.Join(t.TempDir(), "exec-ended")
	cmdline := "env HOME=" + home + " TERM=xterm-256color " + e.bin + " exec " + slug + "; echo exit=$? > " + done + "; sleep 600"
	if out := tmux("new-session", "-d", "-s", "bb", "-x", "120", "-y", "30", cmdline); strings.TrimSpace(out) != "" {
		t.Fatalf("tmux: %s", out)
	}
	waitScreen := func(want string) string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second) // bounds a broken run only
		for {
			scr := tmux("capture-pane", "-p", "-t", "bb")
			if strings.Contains(scr, want) {
				return scr
			}
			if time.Now().After(deadline) {
				t.Fatalf("the terminal never showed %q:\n%s", want, scr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitScreen(":/workspace$") // the shell's prompt: keys typed earlier may be lost
	tmux("send-keys", "-t", "bb", "-l", `echo "tty=$(tty) user=$(id -un) dir=$PWD"`)
	tmux("send-keys", "-t", "bb", "Enter")
	scr := waitScreen("tty=/dev/pts/")
	if !strings.Contains(scr, "dir=/workspace") || strings.Contains(scr, "user=root") {
		t.Errorf("exec's shell is not the agent's, in /workspace:\n%s", scr)
	}
	tmux("send-keys", "-t", "bb", "-l", "exit")
	tmux("send-keys", "-t", "bb", "Enter")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if data, err := os.ReadFile(done); err == nil {
			if got := strings.TrimSpace(string(data)); got != "exit=0" {
				t.Errorf("exec after exit: %s", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("exec did not end after exit:\n%s", tmux("capture-pane", "-p", "-t", "bb"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
