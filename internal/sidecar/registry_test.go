package sidecar

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/plan"
)

func TestBuildReportsEveryProblem(t *testing.T) {
	reg := Registry{
		"egress": func(Config) (Daemon, error) { return nil, errors.New("egress: bad policy") },
		"dns":    func(Config) (Daemon, error) { return nil, errors.New("dns: bad alias") },
	}
	_, err := reg.Build(Config{Settings: Settings{Daemons: []string{"egress", "supervise", "dns"}}})
	if err == nil {
		t.Fatal("Build succeeded")
	}
	for _, want := range []string{"egress: bad policy", "daemon supervise: unknown", "dns: bad alias"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestBuildChecksNames(t *testing.T) {
	j := &journal{}
	reg := Registry{"dns": func(Config) (Daemon, error) { return newFake(j, "egress"), nil }}
	if _, err := reg.Build(Config{Settings: Settings{Daemons: []string{"dns"}}}); err == nil {
		t.Fatal("a constructor building the wrong daemon was accepted")
	}
}

func TestListenAddr(t *testing.T) {
	c := Config{Listen: map[string]string{"dns": "127.0.0.1:5353"}}
	for _, tt := range []struct {
		name      string
		port, def int
		want      string
	}{
		{"dns", 53, 53, "127.0.0.1:5353"},
		{"egress", 9199, 9099, ":9199"},
		{"egress", 0, 9099, ":9099"},
	} {
		if got := c.ListenAddr(tt.name, tt.port, tt.def); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestServedAdapter(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "logs"), 0o700)
	cfg := Config{Root: root}
	log, closer, err := daemonLog(cfg, "echo")
	if err != nil {
		t.Fatal(err)
	}
	d := newServed("echo", func(ctx context.Context, ready func()) error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		log.Info("listening", "addr", ln.Addr().String())
		ready()
		ready() // twice is harmless
		<-ctx.Done()
		return nil
	}, closer)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-d.Ready()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "logs", "echo.jsonl"))
	if err != nil || !strings.Contains(string(data), `"daemon":"echo"`) {
		t.Errorf("daemon log %q, %v", data, err)
	}
	if err := closer.Close(); err == nil {
		t.Error("the log file was not closed when the daemon stopped")
	}
}

func TestNewDNSUsesSidecarConfig(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "logs"), 0o700)
	d, err := NewDNS(Config{
		Root:   root,
		File:   plan.SidecarConfig{Aliases: []string{"bad alias"}},
		Listen: map[string]string{"dns": "127.0.0.1:0"},
		Logger: nil,
	})
	if err == nil {
		t.Fatalf("a bad alias was accepted: %v", d)
	}
}
