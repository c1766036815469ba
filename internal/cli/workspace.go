package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/workspace"
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

// saveWorkspace keeps the agent's work of slug in its state before its
// agent stops, so export and diff work while it is stopped (and after a
// resume without a commit). A bottle nothing was copied into saves nothing.
func saveWorkspace(ctx context.Context, env Env, be workspace.Bottle, slug string) {
	root, err := stateRootDir(env)
	if err != nil || strings.ContainsAny(slug, `/\`) || slug == ".." {
		return
	}
	for _, err := range workspace.SaveLast(ctx, be, slug, filepath.Join(root, slug)) {
		fmt.Fprintf(env.Stderr, "bot-bottle: warning: keeping the workspace of %s: %v\n", slug, err)
	}
}
