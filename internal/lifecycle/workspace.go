package lifecycle

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/workspace"
)

// Workspace is a host directory copied into the agent's /workspace at
// start (a copy: nothing the agent writes there reaches the host).
type Workspace struct {
	// Source is the host directory, usually the working directory.
	Source string
	// RespectGitignore leaves out what the repository's ignore rules
	// exclude.
	RespectGitignore bool
}

// copyWorkspace copies w into the agent of b and records it for diff and
// export.
func copyWorkspace(ctx context.Context, be backend.Backend, b backend.Bottle, stateDir string, w *Workspace, progress io.Writer) error {
	if w == nil {
		return nil
	}
	_, err := workspace.CopyIn(ctx, be, b.Slug, stateDir, w.Source, workspace.CopyOptions{
		ListOptions: workspace.ListOptions{RespectGitignore: w.RespectGitignore},
		UID:         b.AgentUID, GID: b.AgentGID,
		Progress: progress,
	})
	return err
}

// saveWorkspace keeps the agent's commits, patches and diff in the state
// before the containers go.
func saveWorkspace(ctx context.Context, be backend.Backend, slug, stateDir string, progress, warn io.Writer) {
	if warn == nil {
		warn = io.Discard
	}
	fmt.Fprintf(progress, "• keeping the agent's work for \"bot-bottle export %s\" and \"bot-bottle diff %s\"\n", slug, slug)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for _, err := range workspace.SaveLast(ctx, be, slug, stateDir) {
		fmt.Fprintf(warn, "bot-bottle: warning: keeping the workspace of %s: %v\n", slug, err)
	}
}
