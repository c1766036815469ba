package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

func newCleanupCmd(env Env) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove stopped bottles: containers, networks and state",
		Long: `Remove every bottle whose agent is not running: its containers, its
networks and its state directory under ~/.bot-bottle/state (so it can no
longer be resumed). A state directory holding a .preserve file is kept.
Running bottles are left alone, and so are bottles whose state is not
under your ~/.bot-bottle/state (another user's, on a shared engine). Audit
logs (~/.bot-bottle/audit) and committed images are never removed; the
images its approved capability lines built go with its state ("bot-bottle
rm SLUG" removes one bottle, its commits included).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			root, err := stateRootDir(env)
			if err != nil {
				return err
			}
			rows, err := listBottles(ctx, env, true)
			if err != nil {
				return err
			}
			be, closeEngine, err := openEngines(ctx, env, true)
			if err != nil {
				return err
			}
			defer closeEngine()
			for _, r := range rows {
				if r.State == "running" || !within(root, r.StateDir) {
					continue
				}
				verb := "removed"
				if dryRun {
					verb = "would remove"
				}
				if r.State != "saved" {
					if !dryRun {
						if err := be.Remove(ctx, r.Slug); err != nil {
							return err
						}
					}
					fmt.Fprintf(env.Stdout, "%s containers and networks of %s\n", verb, r.Slug)
				}
				if r.StateDir == "" {
					continue
				}
				if r.Preserved {
					fmt.Fprintf(env.Stdout, "kept state of %s (.preserve)\n", r.Slug)
					continue
				}
				if !dryRun {
					removeCapabilityImages(ctx, env, be, r.Slug)
					if err := os.RemoveAll(r.StateDir); err != nil {
						return fmt.Errorf("removing state of %s: %w", r.Slug, err)
					}
				}
				fmt.Fprintf(env.Stdout, "%s state of %s\n", verb, r.Slug)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be removed, remove nothing")
	return cmd
}

// removeCapabilityImages removes the capability builds of slug (never its
// commits), saying each; one that cannot go is a warning, not a reason to
// keep the state (images are found by their label).
func removeCapabilityImages(ctx context.Context, env Env, be backend.Backend, slug string) {
	ir, ok := be.(backend.ImageRemover)
	if !ok {
		return
	}
	refs, err := ir.RemoveImages(ctx, slug, false)
	for _, ref := range refs {
		fmt.Fprintf(env.Stdout, "removed image %s\n", ref)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "bot-bottle: warning: %v\n", err)
	}
}

// within reports whether dir is a state directory under root.
func within(root, dir string) bool {
	rel, err := filepath.Rel(root, dir)
	return dir != "" && err == nil && rel != "." && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel)
}

// fileExists reports whether dir/name exists.
func fileExists(dir, name string) bool {
	_, err := os.Lstat(dir + string(os.PathSeparator) + name)
	return err == nil
}
