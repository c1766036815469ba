package sidecar

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bot-bottle/bot-bottle/internal/ca"
	"github.com/bot-bottle/bot-bottle/internal/egress"
	"github.com/bot-bottle/bot-bottle/internal/gitgate"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/supervise"
)

// UpstreamCAFile is an optional PEM bundle in the sidecar's ca/ directory
// (state/<slug>/ca/ on the host) of extra roots egress trusts for
// upstreams: a self-hosted service with its own CA, or a test's "internet".
const UpstreamCAFile = "upstream.pem"

// NewEgress builds the proxy: the CA from ca/, the live policy from
// egress/policy.yaml (reloaded when the host rewrites it), tokens from the
// environment, holds through the supervise queue. Its port is bound here,
// so the address is known and a taken port fails before anything starts.
func NewEgress(cfg Config) (Daemon, error) {
	log, closer, err := daemonLog(cfg, DaemonEgress)
	if err != nil {
		return nil, err
	}
	ec := egress.Config{
		PolicyPath:        cfg.policyPath(),
		StateDir:          cfg.Dir("ca"),
		QueueDir:          cfg.Settings.QueueDir,
		BottleSlug:        cfg.Settings.Slug,
		TokenAllowTimeout: cfg.Settings.EgressTokenAllowTimeout,
		Getenv:            cfg.Getenv,
		Logger:            log,
		ExtraPorts:        cfg.EgressExtraPorts,
	}
	if up := filepath.Join(cfg.Dir("ca"), UpstreamCAFile); fileExists(up) {
		ec.UpstreamCAFile = up
	}
	// The host makes the CA at first start and the agent trusts that one:
	// a CA the sidecar made itself would be trusted by nobody.
	if !fileExists(filepath.Join(ec.StateDir, ca.CertFile)) {
		closer.Close()
		return nil, fmt.Errorf("daemon %s: no bottle CA in %s (the host makes %s at first start)", DaemonEgress, ec.StateDir, ca.CertFile)
	}
	addr := cfg.ListenAddr(DaemonEgress, cfg.File.Ports.Egress, plan.EgressPort)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		closer.Close()
		return nil, fmt.Errorf("daemon %s: listening: %w", DaemonEgress, err)
	}
	ec.Listener = ln
	srv, err := egress.New(ec)
	if err != nil {
		ln.Close()
		closer.Close()
		return nil, err
	}
	return newServed(DaemonEgress, func(ctx context.Context, ready func()) error {
		go func() {
			select {
			case <-srv.Ready():
				log.Info("egress listening", "addr", ln.Addr().String())
				ready()
			case <-ctx.Done():
			}
		}()
		return srv.Run(ctx)
	}, closer), nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// policyPath is the live egress policy inside the state root.
func (c Config) policyPath() string { return filepath.Join(c.Dir("egress"), "policy.yaml") }

// NewSupervise builds the supervise MCP server on SUPERVISE_PORT. When the
// bundle runs egress too, list-egress-routes asks the proxy for the live
// table.
func NewSupervise(cfg Config) (Daemon, error) {
	log, closer, err := daemonLog(cfg, DaemonSupervise)
	if err != nil {
		return nil, err
	}
	sc := supervise.Config{
		Listen:     cfg.ListenAddr(DaemonSupervise, cfg.Settings.SupervisePort, plan.SupervisePort),
		Slug:       cfg.Settings.Slug,
		QueueDir:   cfg.Settings.QueueDir,
		PolicyPath: cfg.policyPath(),
		Getenv:     cfg.Getenv,
		Logger:     log,
	}
	if cfg.Settings.Has(DaemonEgress) {
		sc.ProxyURL = "http://" + loopback(cfg.ListenAddr(DaemonEgress, cfg.File.Ports.Egress, plan.EgressPort))
		sc.EgressLog = filepath.Join(cfg.Dir("logs"), DaemonEgress+".jsonl")
	}
	srv, err := supervise.NewServer(sc)
	if err != nil {
		closer.Close()
		return nil, err
	}
	return newServed(DaemonSupervise, func(ctx context.Context, ready func()) error {
		ln, err := net.Listen("tcp", sc.Listen)
		if err != nil {
			return fmt.Errorf("supervise: listening: %w", err)
		}
		ready()
		return srv.Serve(ctx, ln)
	}, closer), nil
}

// NewGitGate builds the git-gate for the repos in sidecar.json. Its mirrors
// live in the container's own storage (cfg.DataDir), not in the bottle's
// host state.
func NewGitGate(cfg Config) (Daemon, error) {
	if cfg.Executable == "" {
		return nil, fmt.Errorf("daemon %s: no bot-bottle binary for the pre-receive hook", DaemonGitGate)
	}
	repos := map[string]manifest.Repo{}
	for _, r := range cfg.File.Repos {
		repos[r.Name] = manifest.Repo{
			URL:            r.URL,
			HostKey:        r.HostKey,
			Key:            manifest.RepoKey{Provider: "static", Path: r.KeyFile},
			AllowForcePush: r.AllowForcePush,
		}
	}
	log, closer, err := daemonLog(cfg, DaemonGitGate)
	if err != nil {
		return nil, err
	}
	var environ []string
	if cfg.Environ != nil {
		environ = cfg.Environ()
	}
	// New prepares the mirrors and binds the port, so a bad repo fails
	// before anything starts.
	srv, err := gitgate.New(gitgate.Config{
		Listen:       cfg.ListenAddr(DaemonGitGate, cfg.File.Ports.GitGate, plan.GitGatePort),
		StateDir:     filepath.Join(cfg.DataDir, DaemonGitGate),
		Repos:        repos,
		QueueDir:     cfg.Settings.QueueDir,
		Slug:         cfg.Settings.Slug,
		AllowTimeout: strconv.Itoa(int(cfg.Settings.GitleaksAllowTimeout.Seconds())),
		Logger:       log,
		BinaryPath:   cfg.Executable,
		Environ:      environ,
		// The hook's push decisions go beside the daemon's own lines, so
		// `bot-bottle logs SLUG gate` shows both.
		HookLog: filepath.Join(cfg.Dir("logs"), DaemonGitGate+".jsonl"),
	})
	if err != nil {
		closer.Close()
		return nil, err
	}
	return newServed(DaemonGitGate, func(ctx context.Context, ready func()) error {
		ready()
		return srv.Run(ctx)
	}, closer), nil
}

// loopback turns a listen address into one to dial from the same host.
func loopback(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
