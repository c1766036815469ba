package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
)

// workspaceFlags adds the copy-in flags of start and resume.
func workspaceFlags(cmd *cobra.Command, o *startOptions) {
	f := cmd.Flags()
	f.BoolVar(&o.cwd, "cwd", false, "copy the working directory, .git included, into the agent's /workspace (a copy, never a mount)")
	f.BoolVar(&o.respectGitignore, "respect-gitignore", false, "with --cwd, leave out the files the repository's .gitignore excludes")
}

// checkWorkspaceFlags refuses --respect-gitignore without --cwd.
func checkWorkspaceFlags(o startOptions) error {
	if o.respectGitignore && !o.cwd {
		return usageError(errors.New("--respect-gitignore needs --cwd"))
	}
	return nil
}

// workspaceOf is the copy-in the flags ask for (nil: none).
func workspaceOf(env Env, o startOptions) *lifecycle.Workspace {
	if !o.cwd {
		return nil
	}
	return &lifecycle.Workspace{Source: env.Cwd, RespectGitignore: o.respectGitignore}
}
