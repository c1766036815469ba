package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
)

func newCommitCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "commit SLUG [IMAGE]",
		Short: "Snapshot a bottle's agent container for resume",
		Long: `Snapshot the agent container of bottle SLUG (running or stopped) as an
image, named IMAGE or bot-bottle/commit-SLUG:<time>, and record it in the
bottle's metadata.json: "bot-bottle resume SLUG" then boots from it, with
every file the agent wrote.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			slug, image := args[0], ""
			if len(args) == 2 {
				image = args[1]
			}
			root, err := stateRootDir(env)
			if err != nil {
				return err
			}
			dir := filepath.Join(root, slug)
			meta, err := lifecycle.ReadMetadata(dir)
			if err != nil {
				return found(fmt.Errorf("committing %s: %w", slug, err))
			}
			be, closeEngine, err := openEngineSet(cmd.Context(), env)
			if err != nil {
				return err
			}
			defer closeEngine()
			ref, err := be.Commit(cmd.Context(), slug, image)
			if err != nil {
				if errors.Is(err, backend.ErrNotFound) {
					return found(fmt.Errorf("%w (its containers went when its agent exited: commit needs a bottle started with --keep, or one ended by \"bot-bottle stop %s\")", err, slug))
				}
				return err
			}
			meta.Image = ref
			if err := lifecycle.WriteMetadata(dir, meta); err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, ref)
			return nil
		},
	}
}
