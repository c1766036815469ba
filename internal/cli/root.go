// Package cli is bot-bottle's command tree: one file per command, flags
// turned into options, no logic of its own.
package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Run executes the command line args and returns the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	root := newRootCmd(env)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	var e *exitError
	if err != nil && (!errors.As(err, &e) || e.err != nil) {
		fmt.Fprintf(env.Stderr, "bot-bottle: %v\n", err)
	}
	return exitCode(err)
}

func newRootCmd(env Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "bot-bottle",
		Short: "Run a coding agent as if it might be compromised",
		Long: `bot-bottle runs a coding agent (Claude Code, Codex, pi, a plain shell, or
your own) in a container, a bottle, whose only way out is a sidecar that holds
every secret and enforces every rule: an egress proxy with per-route
allowlists and secret scanning, a git remote that scans pushes, and a
supervisor through which the agent asks a human for more access.

What a bottle may do is written in Markdown manifests: bottles in
~/.bot-bottle/bottles/ (only there: a repository you clone cannot define
one) and agents in ~/.bot-bottle/agents/ or ./.bot-bottle/agents/.

  bot-bottle start                 a shell in the built-in bottle
  bot-bottle init                  write a commented starter ~/.bot-bottle
  bot-bottle manifest check        report every problem in your manifests
  bot-bottle start --dry-run       see what a bottle would get

The manifest reference is docs/manifest.md.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("bot-bottle {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.AddCommand(
		newAttestProbeCmd(env),
		newAuditCmd(env),
		newCleanupCmd(env),
		newCommitCmd(env),
		newDiffCmd(env),
		newDoctorCmd(env),
		newEgressCmd(env),
		newExecCmd(env),
		newExportCmd(env),
		newGateCmd(env),
		newInitCmd(env),
		newListCmd(env),
		newLogsCmd(env),
		newManifestCmd(env),
		newResumeCmd(env),
		newRmCmd(env),
		newSidecarCmd(env),
		newStartCmd(env),
		newStopCmd(env),
		newSuperviseCmd(env),
		newVersionCmd(env),
	)
	completeEverySlug(root, env)
	return root
}

// completeEverySlug gives every command whose first argument is a SLUG
// slug completion, so no command is left out (logs completes more).
func completeEverySlug(c *cobra.Command, env Env) {
	for _, sub := range c.Commands() {
		completeEverySlug(sub, env)
	}
	if f := strings.Fields(c.Use); len(f) > 1 && strings.Trim(f[1], "[]") == "SLUG" && c.ValidArgsFunction == nil {
		c.ValidArgsFunction = completeSlugs(env)
	}
}
