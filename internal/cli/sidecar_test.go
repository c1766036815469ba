package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/sidecar"
)

// sidecarFixture writes a sidecar.json for a dns-only sidecar and returns
// the state root and the config path.
func sidecarFixture(t *testing.T, cfg plan.SidecarConfig) (root, config string) {
	t.Helper()
	root = t.TempDir()
	config = filepath.Join(root, "config", "sidecar.json")
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(config), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return root, config
}

func sidecarTestEnv(vars map[string]string, stdout, stderr io.Writer) Env {
	return Env{
		Stdin:   strings.NewReader(""),
		Stdout:  stdout,
		Stderr:  stderr,
		Getenv:  func(k string) string { return vars[k] },
		Environ: func() []string { return nil },
	}
}

// dnsAddr finds the resolver's address in the sidecar's JSON log.
func dnsAddr(stderr string) string {
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		var line struct {
			Msg string `json:"msg"`
			UDP string `json:"udp"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "dns listening" {
			return line.UDP
		}
	}
	return ""
}

func TestSidecarCommandRunsAndStops(t *testing.T) {
	root, config := sidecarFixture(t, plan.SidecarConfig{
		Slug: "impl-k3x9q", Daemons: []string{"dns"}, Aliases: []string{"egress", "supervise", "api.internal"},
	})
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	env := sidecarTestEnv(map[string]string{"HTTPS_PROXY": "http://must-not-be-used:1"}, stdout, stderr)
	t.Setenv("HTTPS_PROXY", "http://must-not-be-used:1")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- Run(ctx, []string{"sidecar", "--config", config, "--root", root, "--listen", "dns=127.0.0.1:0"}, env)
	}()
	for !strings.Contains(stdout.String(), sidecar.ReadyLine) {
		select {
		case c := <-code:
			t.Fatalf("sidecar exited %d before ready: %s", c, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if got := stdout.String(); got != sidecar.ReadyLine+"dns\n" {
		t.Errorf("stdout %q", got)
	}
	if os.Getenv("HTTPS_PROXY") != "" {
		t.Error("the sidecar kept HTTPS_PROXY in its environment")
	}
	marker := filepath.Join(root, "logs", sidecar.ReadyFile)
	if _, err := sidecar.ReadMarker(marker); err != nil {
		t.Errorf("marker: %v", err)
	}
	readyOut := &lockedBuffer{}
	if c := Run(context.Background(), []string{"sidecar", "ready", "--root", root}, sidecarTestEnv(nil, readyOut, io.Discard)); c != ExitOK || readyOut.String() != "ready: dns\n" {
		t.Errorf("sidecar ready: exit %d, %q", c, readyOut.String())
	}

	// The configured alias resolves; an outside name is refused and logged.
	addr := dnsAddr(stderr.String())
	c := &dns.Client{Timeout: 5 * time.Second}
	for name, rcode := range map[string]int{"api.internal.": dns.RcodeSuccess, "example.com.": dns.RcodeRefused} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatalf("query %s at %q: %v", name, addr, err)
		}
		if r.Rcode != rcode {
			t.Errorf("%s: rcode %s, want %s", name, dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode])
		}
	}
	log, err := os.ReadFile(filepath.Join(root, "logs", "dns.jsonl"))
	if err != nil || !strings.Contains(string(log), `"name":"example.com."`) {
		t.Errorf("dns.jsonl %q, %v", log, err)
	}

	cancel()
	if c := <-code; c != ExitOK {
		t.Fatalf("exit %d after shutdown: %s", c, stderr.String())
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker left after shutdown: %v", err)
	}
	if c := Run(context.Background(), []string{"sidecar", "ready", "--root", root}, sidecarTestEnv(nil, io.Discard, io.Discard)); c != ExitFound {
		t.Errorf("sidecar ready after shutdown: exit %d, want 1", c)
	}
}

func TestSidecarCommandFailsAtStart(t *testing.T) {
	full := plan.SidecarConfig{Slug: "impl-k3x9q", Daemons: []string{"egress", "supervise", "dns"}}
	tests := map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"unknown daemon":    {map[string]string{sidecar.EnvDaemons: "dns,sshd"}, nil, `unknown daemon "sshd"`},
		"bad hold timeout":  {map[string]string{sidecar.EnvDaemons: "dns", sidecar.EnvEgressTokenAllowTimeout: "soon"}, nil, sidecar.EnvEgressTokenAllowTimeout},
		"bad gitleaks hold": {map[string]string{sidecar.EnvDaemons: "dns", sidecar.EnvGitleaksAllowTimeout: "0"}, nil, sidecar.EnvGitleaksAllowTimeout},
		"slug mismatch":     {map[string]string{sidecar.EnvSuperviseSlug: "other-aaaaa"}, nil, "sidecar.json says"},
		"bad listen flag":   {map[string]string{sidecar.EnvDaemons: "dns"}, []string{"--listen", "dns"}, "NAME=HOST:PORT"},
		"listen unknown":    {map[string]string{sidecar.EnvDaemons: "dns"}, []string{"--listen", "sshd=127.0.0.1:0"}, "not a daemon"},
		"no bottle CA":      {map[string]string{sidecar.EnvDaemons: "egress,dns"}, nil, "daemon egress: no bottle CA"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			root, config := sidecarFixture(t, full)
			stderr := &lockedBuffer{}
			args := append([]string{"sidecar", "--config", config, "--root", root}, tt.args...)
			code := Run(context.Background(), args, sidecarTestEnv(tt.env, io.Discard, stderr))
			if code != ExitError || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
		})
	}
	t.Run("missing config", func(t *testing.T) {
		stderr := &lockedBuffer{}
		code := Run(context.Background(), []string{"sidecar", "--config", filepath.Join(t.TempDir(), "none.json")},
			sidecarTestEnv(map[string]string{sidecar.EnvDaemons: "dns"}, io.Discard, stderr))
		if code != ExitError || !strings.Contains(stderr.String(), "reading sidecar config") {
			t.Fatalf("exit %d, stderr %q", code, stderr.String())
		}
	})
	t.Run("unknown config field", func(t *testing.T) {
		root := t.TempDir()
		config := filepath.Join(root, "sidecar.json")
		os.WriteFile(config, []byte(`{"slug":"impl-k3x9q","daemons":["dns"],"dameons":[]}`), 0o600)
		stderr := &lockedBuffer{}
		code := Run(context.Background(), []string{"sidecar", "--config", config, "--root", root},
			sidecarTestEnv(nil, io.Discard, stderr))
		if code != ExitError || !strings.Contains(stderr.String(), "dameons") {
			t.Fatalf("exit %d, stderr %q", code, stderr.String())
		}
	})
}

// TestSidecarProcessStopsOnSIGTERM runs the sidecar as a real process (this
// test binary, re-executed) and stops it the way Docker does.
func TestSidecarProcessStopsOnSIGTERM(t *testing.T) {
	if os.Getenv("BOT_BOTTLE_TEST_SIDECAR_CHILD") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		code := Run(ctx, os.Args[len(os.Args)-6:], OSEnv())
		// The parent reads the exit code from stdout: a test must not
		// call os.Exit.
		io.WriteString(os.Stdout, "exit code: "+strconv.Itoa(code)+"\n")
		return
	}
	root, config := sidecarFixture(t, plan.SidecarConfig{Slug: "impl-k3x9q", Daemons: []string{"dns"}})
	cmd := exec.Command(os.Args[0], "-test.run=^TestSidecarProcessStopsOnSIGTERM$", "--",
		"sidecar", "--config", config, "--root", root, "--listen=dns=127.0.0.1:0")
	cmd.Env = append(os.Environ(), "BOT_BOTTLE_TEST_SIDECAR_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), sidecar.ReadyLine) {
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	want := []string{sidecar.ReadyLine + "dns", "exit code: 0"}
	if len(lines) < 2 || lines[0] != want[0] || !slices.Contains(lines, want[1]) {
		t.Fatalf("child stdout %q, want %q\nstderr: %s", lines, want, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(root, "logs", sidecar.ReadyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker left after SIGTERM: %v", err)
	}
}
