package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/gitgate"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

func newGateCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gate",
		Short: "Run the git-gate: the agent's scanned, fail-closed git remote",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newGateServeCmd(env), newGateHookCmd(env))
	return cmd
}

func newGateServeCmd(env Env) *cobra.Command {
	var config, listen, stateDir, hookLog string
	cmd := &cobra.Command{
		Use:   "serve --config FILE --listen ADDR --state-dir DIR",
		Short: "Serve the git-gate for the repos in a bottle manifest or git-gate YAML",
		Long: `Serve one bare mirror per repo declared under git-gate.repos, over smart
HTTP at http://ADDR/NAME.git. Fetches refresh the mirror from the upstream
first; pushes are scanned with gitleaks and clean refs are forwarded upstream
over SSH with the repo's key and pinned host key.

The supervise queue for # gitleaks:allow approvals comes from
SUPERVISE_QUEUE_DIR and SUPERVISE_BOTTLE_SLUG; the wait is bounded by
SUPERVISE_GITLEAKS_ALLOW_TIMEOUT_SECONDS (default 300).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config == "" || stateDir == "" {
				return usageError(errors.New("gate serve needs --config and --state-dir"))
			}
			gg, err := manifest.LoadGitGateFile(config)
			if err != nil {
				return usageError(err)
			}
			if len(gg.Repos) == 0 {
				return usageError(fmt.Errorf("%s declares no git-gate.repos", config))
			}
			if hookLog != "" {
				if hookLog, err = filepath.Abs(hookLog); err != nil {
					return usageError(err)
				}
			}
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the bot-bottle binary: %w", err)
			}
			srv, err := gitgate.New(gitgate.Config{
				Listen:       listen,
				StateDir:     stateDir,
				Repos:        gg.Repos,
				User:         gg.User,
				QueueDir:     env.Getenv(gitgate.EnvQueueDir),
				Slug:         env.Getenv(gitgate.EnvSlug),
				AllowTimeout: env.Getenv(gitgate.EnvAllowTimeout),
				Logger:       env.logger(),
				BinaryPath:   bin,
				Environ:      env.Environ(),
				HookLog:      hookLog,
			})
			if err != nil {
				return err
			}
			return srv.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "bottle manifest (.md) or YAML file with a git-gate: block")
	cmd.Flags().StringVar(&listen, "listen", ":9420", "address to listen on")
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "directory for the mirrors and known_hosts files")
	cmd.Flags().StringVar(&hookLog, "push-log", "", "file to append one JSON line per push decision to")
	return cmd
}

// newGateHookCmd is the mirrors' pre-receive hook; git runs it, not people.
func newGateHookCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:    "hook pre-receive",
		Short:  "The git-gate mirrors' pre-receive hook",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "pre-receive" {
				return usageError(fmt.Errorf("unknown hook %q", args[0]))
			}
			h := gitgate.HookFromEnv(env.Getenv, env.Environ())
			if path := env.Getenv(gitgate.EnvHookLog); path != "" {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
				if err != nil {
					// Refuse: a decision that cannot be logged is not taken.
					fmt.Fprintf(env.Stderr, "git-gate: opening the push log: %v; refusing push\n", err)
					return found(nil)
				}
				defer f.Close()
				h.Log = slog.New(slog.NewJSONHandler(f, nil))
			}
			if err := h.PreReceive(cmd.Context(), env.Stdin, env.Stderr); err != nil {
				if errors.Is(err, gitgate.ErrRefused) {
					return found(nil)
				}
				return found(err)
			}
			return nil
		},
	}
}
