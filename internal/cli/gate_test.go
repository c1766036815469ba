package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func gateEnv(out *bytes.Buffer) Env {
	return Env{
		Stdin: strings.NewReader(""), Stdout: out, Stderr: out,
		Getenv:  func(string) string { return "" },
		Environ: func() []string { return []string{"PATH=" + os.Getenv("PATH")} },
	}
}

func TestGateServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "id"), []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := `git-gate:
  repos:
    app:
      url: ssh://git@127.0.0.1:2222/srv/app.git
      host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl
      key: {provider: static, path: id}
`
	cfg := filepath.Join(dir, "gate.yaml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	code := Run(ctx, []string{"gate", "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--state-dir", state}, gateEnv(&out))
	if code != ExitOK {
		t.Fatalf("gate serve exit %d:\n%s", code, out.String())
	}
	kh, err := os.ReadFile(filepath.Join(state, "ssh", "app.known_hosts"))
	if err != nil || !strings.HasPrefix(string(kh), "[127.0.0.1]:2222 ssh-ed25519 ") {
		t.Errorf("known_hosts = %q, %v", kh, err)
	}
	hook, err := os.ReadFile(filepath.Join(state, "mirrors", "app.git", "hooks", "pre-receive"))
	if err != nil || !strings.Contains(string(hook), "gate hook pre-receive") {
		t.Errorf("hook = %q, %v", hook, err)
	}
}

func TestGateServeBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gate.yaml")
	if err := os.WriteFile(cfg, []byte("git-gate:\n  repoz: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"gate", "serve", "--config", cfg, "--state-dir", dir},
		{"gate", "serve", "--state-dir", dir},
	} {
		var out bytes.Buffer
		if code := Run(context.Background(), args, gateEnv(&out)); code != ExitError {
			t.Errorf("%v: exit %d, want %d:\n%s", args, code, ExitError, out.String())
		}
	}
}

func TestGateHookRefusesWithoutUpstream(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	code := Run(context.Background(), []string{"gate", "hook", "pre-receive"}, gateEnv(&out))
	if code != ExitFound || !strings.Contains(out.String(), "git-gate: no upstream configured") {
		t.Errorf("hook exit %d:\n%s", code, out.String())
	}
}
