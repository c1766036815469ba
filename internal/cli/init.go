package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/bot-bottle/bot-bottle/examples"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/spf13/cobra"
)

func newInitCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Write a starter ~/.bot-bottle (never overwrites)",
		Long: `Write a starter ~/.bot-bottle: a bottle per provider (claude, codex, pi,
shell), a github bottle, a plain shell agent and an impl agent, with
comments that teach the manifest schema.
Files that already exist are kept as they are.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if env.Home == "" {
				return errors.New("writing starter: home directory unknown; set HOME")
			}
			return writeStarter(env, filepath.Join(env.Home, ".bot-bottle"))
		},
	}
}

func writeStarter(env Env, root string) error {
	short := func(p string) string { return manifest.ShortPath(env.Home, p) }
	for _, dir := range []string{"bottles", "agents"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o700); err != nil {
			return fmt.Errorf("writing starter: %w", err)
		}
	}
	err := fs.WalkDir(examples.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".md" {
			return err
		}
		data, err := examples.FS.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(root, filepath.FromSlash(p))
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			fmt.Fprintf(env.Stdout, "kept  %s (already there)\n", short(dst))
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "wrote %s\n", short(dst))
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing starter: %w", err)
	}
	fmt.Fprintln(env.Stdout, "next: bot-bottle manifest check, then bot-bottle start shell --dry-run")
	return nil
}
