package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	logRefused = `{"time":"2026-11-26T12:00:01Z","level":"WARN","msg":"egress","daemon":"egress","decision":"refuse","code":"host_not_allowed","reason":"not in the allowlist","method":"CONNECT","scheme":"https","host":"evil.example","port":443,"headers":{"Authorization":["Bearer sk-live-0123456789abcdef"]}}` + "\n"
	logDNS     = `{"time":"2026-11-26T12:00:00Z","name":"leak.example.","type":"A","reason":"only the sidecar's names resolve here"}` + "\n"
)

func bottleLogs(t *testing.T) (home, logs string) {
	home = t.TempDir()
	logs = filepath.Join(home, ".bot-bottle/state/impl-k3x9q/logs")
	writeFile(t, filepath.Join(logs, "egress.jsonl"), logRefused)
	writeFile(t, filepath.Join(logs, "dns.jsonl"), logDNS)
	return home, logs
}

func TestLogs(t *testing.T) {
	home, _ := bottleLogs(t)
	out, errOut, code := execCLI(t, home, home, nil, "logs", "impl-k3x9q")
	if code != 0 {
		t.Fatalf("code=%d stderr=%q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "dns       REFUSE A leak.example.:") || !strings.Contains(lines[1], "egress    WARN REFUSE CONNECT https://evil.example: not in the allowlist") {
		t.Errorf("out:\n%s", out)
	}
	if strings.Contains(out, "sk-live") || !strings.Contains(out, `"Authorization":["***"]`) {
		t.Errorf("credential not masked:\n%s", out)
	}

	out, _, code = execCLI(t, home, home, nil, "logs", "impl-k3x9q", "dns", "--json")
	if code != 0 || out != logDNS {
		t.Errorf("--json dns: code=%d out=%q, want the line as written", code, out)
	}
	out, _, _ = execCLI(t, home, home, nil, "logs", "impl-k3x9q", "egress", "--json")
	if strings.Contains(out, "sk-live") || !strings.Contains(out, `"decision":"refuse"`) {
		t.Errorf("--json egress: %q", out)
	}
}

func TestLogsErrors(t *testing.T) {
	home, _ := bottleLogs(t)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"logs", "gone-aaaaa"}, 1, "no bottle gone-aaaaa"},
		{[]string{"logs", "../../etc"}, 2, "not a bottle slug"},
		{[]string{"logs", "impl-k3x9q", "audit"}, 2, `no log "audit"`},
		{[]string{"logs"}, 2, "requires at least 1 arg"},
	} {
		_, errOut, code := execCLI(t, home, home, nil, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: code=%d stderr=%q, want %d %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
	// A bottle with no logs yet says so and succeeds.
	if err := os.MkdirAll(filepath.Join(home, ".bot-bottle/state/new-bbbbb"), 0o700); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := execCLI(t, home, home, nil, "logs", "new-bbbbb")
	if code != 0 || out != "" || !strings.Contains(errOut, "no log lines yet") {
		t.Errorf("empty: code=%d out=%q err=%q", code, out, errOut)
	}
}

func TestLogsFollow(t *testing.T) {
	home, logs := bottleLogs(t)
	var out lockedBuffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Home: home, Cwd: home,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, []string{"logs", "impl-k3x9q", "--follow", "--poll", "10ms"}, env) }()
	waitFor := func(s string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(out.String(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("never printed %q:\n%s", s, out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("evil.example")
	f, err := os.OpenFile(filepath.Join(logs, "git-gate.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"time":"2026-11-26T12:00:05Z","level":"WARN","msg":"unknown repo","daemon":"git-gate","repo":"other"}` + "\n")
	f.Close()
	waitFor("gate      WARN unknown repo")
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("follow exited %d:\n%s", code, out.String())
	}
}
