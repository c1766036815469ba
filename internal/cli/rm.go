package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

func newRmCmd(env Env) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm SLUG",
		Short: "Remove one bottle: containers, networks, state and its images",
		Long: `Remove bottle SLUG entirely: its containers and networks, the images made
for it alone (its approved capability builds and its commits) and its state
directory under ~/.bot-bottle/state, a .preserve marker notwithstanding, so
it can no longer be resumed. Its audit log (~/.bot-bottle/audit/SLUG.jsonl)
stays: no removal touches the record of what the operator decided.

A running bottle is refused unless --force. Exits 1 when there is no such
bottle of yours (another user's bottle on a shared engine is never
removed).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRm(cmd.Context(), env, args[0], force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove the bottle even while its agent runs")
	return cmd
}

func runRm(ctx context.Context, env Env, slug string, force bool) error {
	if !manifest.ValidName(slug) {
		return usageError(fmt.Errorf("%q is not a bottle slug (bot-bottle list shows them)", slug))
	}
	root, err := stateRootDir(env)
	if err != nil {
		return err
	}
	rows, err := listBottles(ctx, env, true)
	if err != nil {
		return err
	}
	var row *bottleRow
	for i := range rows {
		if rows[i].Slug == slug {
			row = &rows[i]
		}
	}
	switch {
	case row == nil:
		return found(fmt.Errorf("%w %s (bot-bottle list shows yours)", backend.ErrNotFound, slug))
	case row.StateDir != "" && !within(root, row.StateDir):
		return found(fmt.Errorf("bottle %s is not yours (its state is %s): rm removes only your bottles", slug, row.StateDir))
	case row.State == "running" && !force:
		return found(fmt.Errorf("bottle %s is running: \"bot-bottle stop %s\" first, or rm --force", slug, slug))
	}
	be, closeEngine, err := openEngines(ctx, env, true)
	if err != nil {
		return err
	}
	defer closeEngine()
	dir := row.StateDir
	if dir == "" {
		dir = hoststate.New(env.Home).Bottle(slug).Root()
	}
	removed, err := lifecycle.Remove(ctx, be, slug, dir, true)
	if removed.Containers && row.State != "saved" {
		fmt.Fprintf(env.Stdout, "removed containers and networks of %s\n", slug)
	}
	for _, ref := range removed.Images {
		fmt.Fprintf(env.Stdout, "removed image %s\n", ref)
	}
	if removed.State {
		fmt.Fprintf(env.Stdout, "removed state of %s\n", slug)
	}
	if err != nil {
		return fmt.Errorf("removing %s: %w", slug, err)
	}
	if audit := hoststate.New(env.Home).Audit(slug); regularFile(audit) {
		fmt.Fprintf(env.Stdout, "kept audit log %s\n", manifest.ShortPath(env.Home, audit))
	}
	return nil
}

// regularFile reports whether p is a regular file.
func regularFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
