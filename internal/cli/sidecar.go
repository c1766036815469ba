package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/sidecar"
)

type sidecarOptions struct {
	config  string
	root    string
	dataDir string
	listen  []string
	grace   time.Duration
}

func newSidecarCmd(env Env) *cobra.Command {
	var o sidecarOptions
	cmd := &cobra.Command{
		Use:   "sidecar",
		Short: "Run a bottle's sidecar daemons (inside the sidecar container)",
		Long: `Run the daemons named in BOT_BOTTLE_SIDECAR_DAEMONS (else in sidecar.json):
egress, supervise, dns and git-gate, in that order, each started once the one
before it is ready. When all are ready the sidecar writes logs/` + sidecar.ReadyFile + `
under its state root and prints "` + strings.TrimSpace(sidecar.ReadyLine) + ` <daemons>".

A daemon that stops takes the sidecar down with an error naming it. SIGTERM
stops the daemons in reverse order, each within the grace period. An unknown
daemon or an invalid SUPERVISE_* or EGRESS_* variable fails at start.

The backend runs this as the sidecar container's entrypoint; the flags let
it run outside a container, for tests.`,
		Example: `  BOT_BOTTLE_SIDECAR_DAEMONS=dns bot-bottle sidecar \
    --config ./sidecar.json --root ./state --listen dns=127.0.0.1:5353`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSidecar(cmd.Context(), env, o)
		},
	}
	cmd.AddCommand(newSidecarReadyCmd(env))
	f := cmd.Flags()
	f.StringVar(&o.config, "config", plan.SidecarConfigFile, "the sidecar's part of the plan (sidecar.json)")
	f.StringVar(&o.root, "root", plan.SidecarRoot, "state root holding config/, egress/, ca/, ssh/, queue/ and logs/")
	f.StringVar(&o.dataDir, "data-dir", filepath.Join(os.TempDir(), "bot-bottle-sidecar"), "the sidecar's own storage (git-gate mirrors), never the host's state")
	f.StringArrayVar(&o.listen, "listen", nil, "listen address of one daemon, NAME=HOST:PORT (repeatable)")
	f.DurationVar(&o.grace, "grace", sidecar.DefaultGrace, "how long each daemon gets to stop")
	return cmd
}

func runSidecar(ctx context.Context, env Env, o sidecarOptions) error {
	// The sidecar's own traffic goes direct: drop proxy settings for this
	// process and every child (git, ssh) before anything reads them.
	proxyVars := sidecar.ProxyEnvVars()
	for _, k := range proxyVars {
		os.Unsetenv(k)
	}
	getenv := func(k string) string {
		if slices.Contains(proxyVars, k) {
			return ""
		}
		return env.Getenv(k)
	}

	listen := map[string]string{}
	for _, l := range o.listen {
		name, addr, ok := strings.Cut(l, "=")
		if !ok || name == "" || addr == "" {
			return usageError(fmt.Errorf("--listen %q: want NAME=HOST:PORT", l))
		}
		listen[name] = addr
	}
	defer sidecar.SetSoftMemoryLimit(getenv)() // keeps the sidecar under its memory budget; see the function
	settings, err := sidecar.ParseSettings(getenv)
	if err != nil {
		return err
	}
	file, err := sidecar.ReadConfigFile(o.config)
	if err != nil {
		return err
	}
	if settings, err = settings.Complete(file.Daemons, file.Slug); err != nil {
		return err
	}
	for name := range listen {
		if !slices.Contains(sidecar.Order(), name) {
			return usageError(fmt.Errorf("--listen %s: not a daemon (%s)", name, strings.Join(sidecar.Order(), ",")))
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the bot-bottle binary: %w", err)
	}
	environ := func() []string {
		var out []string
		for _, kv := range env.Environ() {
			if k, _, _ := strings.Cut(kv, "="); !slices.Contains(proxyVars, k) {
				out = append(out, kv)
			}
		}
		return out
	}
	if settings.QueueDir == "" {
		settings.QueueDir = filepath.Join(o.root, "queue")
	}
	logger := env.logger().With("bottle", settings.Slug)
	cfg := sidecar.Config{
		Settings:   settings,
		File:       file,
		Root:       o.root,
		Listen:     listen,
		Getenv:     getenv,
		Environ:    environ,
		DataDir:    o.dataDir,
		Executable: exe,
		Logger:     logger,
	}
	logs := cfg.Dir("logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", logs, err)
	}
	daemons, err := sidecar.Builtin().Build(cfg)
	if err != nil {
		return err
	}
	b := &sidecar.Bundle{
		Daemons:   daemons,
		ReadyPath: filepath.Join(logs, sidecar.ReadyFile),
		Stdout:    env.Stdout,
		Grace:     o.grace,
		Logger:    logger,
	}
	return b.Run(ctx)
}

func newSidecarReadyCmd(env Env) *cobra.Command {
	var root string
	cmd := &cobra.Command{
		Use:   "ready",
		Short: "Exit 0 when the sidecar's daemons are all ready, 1 when not (a health check)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			m, err := sidecar.ReadMarker(filepath.Join(root, "logs", sidecar.ReadyFile))
			if errors.Is(err, os.ErrNotExist) {
				return found(errors.New("sidecar not ready"))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "ready: %s\n", strings.Join(m.Daemons, ","))
			return nil
		},
	}
	cmd.Flags().StringVar(&root, "root", plan.SidecarRoot, "state root holding logs/")
	return cmd
}
