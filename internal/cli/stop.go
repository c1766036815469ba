package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
)

func newStopCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "stop SLUG",
		Short: "Stop a bottle's containers, keeping them for commit",
		Long: `Stop the agent and then the sidecar of bottle SLUG. The containers stay
until "bot-bottle cleanup" or "bot-bottle resume", with or without
--keep at start; "bot-bottle commit SLUG" can still snapshot the agent. Exits 1 when there is no such bottle.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			be, closeEngine, err := openEngineSet(cmd.Context(), env)
			if err != nil {
				return err
			}
			defer closeEngine()
			markStopped(env, args[0])
			saveWorkspace(cmd.Context(), env, be, args[0])
			if err := be.Stop(cmd.Context(), args[0]); err != nil {
				if errors.Is(err, backend.ErrNotFound) {
					return found(err)
				}
				return err
			}
			fmt.Fprintf(env.Stdout, "stopped %s\n", args[0])
			return nil
		},
	}
}

// markStopped tells a start still attached to slug that stop ended it, so
// it leaves the containers for commit (a marking failure only warns).
func markStopped(env Env, slug string) {
	root, err := stateRootDir(env)
	if err != nil || strings.ContainsAny(slug, `/\`) || slug == ".." || slug == "" {
		return
	}
	if err := lifecycle.MarkStopped(filepath.Join(root, slug)); err != nil {
		fmt.Fprintf(env.Stderr, "bot-bottle: warning: marking %s stopped (its attached start may remove it): %v\n", slug, err)
	}
}
