package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/workspace"
)

func newDiffCmd(env Env) *cobra.Command {
	var stat bool
	cmd := &cobra.Command{
		Use:   "diff SLUG",
		Short: "Show what the agent changed in /workspace since the copy-in",
		Long: `Show what the agent of bottle SLUG changed in /workspace against what
"start --cwd" copied in: the commits it made, then one diff of everything
committed and not (new files included, ignored ones not). The diff is made
inside the agent; control characters in it are replaced before it is
printed. When the bottle's containers are gone, the diff saved when its
agent exited is shown. Use "bot-bottle export" to take the work out.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			slug := args[0]
			dir, err := bottleStateDir(env, slug)
			if err != nil {
				return err
			}
			be, closeEngine := workspaceBottle(cmd.Context(), env)
			defer closeEngine()
			saved, err := workspace.Diff(cmd.Context(), be, slug, dir, env.Stdout, stat)
			noteSaved(env.Stderr, slug, saved)
			if err != nil {
				return fmt.Errorf("diff of %s: %w", slug, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&stat, "stat", false, "a summary of changed files instead of the patch")
	return cmd
}
