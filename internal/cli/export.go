package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/workspace"
)

func newExportCmd(env Env) *cobra.Command {
	var patch bool
	cmd := &cobra.Command{
		Use:   "export SLUG DEST",
		Short: "Write the agent's new commits as a git bundle or a patch series",
		Long: `Write the commits the agent of bottle SLUG made in /workspace since
"start --cwd" copied it in: a git bundle at DEST when DEST ends in ".bundle",
otherwise at DEST/SLUG.bundle (the directory DEST is made when missing), or with --patch a patch series (git format-patch of HEAD's
new commits) as files in the directory DEST. Existing files are never
overwritten.

The bundle is made inside the agent and read out as bytes; nothing from the
bottle is checked out on the host, so no hook, config or script of the
agent's can run here. Before it is kept, the bundle is verified: its head
must parse, "git bundle verify" must pass in an empty repository that
borrows the objects of the repository it was copied from (so it carries
only the agent's commits, on top of ones you have), and fetching it there
must succeed. Review it, then:

  git fetch DEST 'refs/heads/*:refs/remotes/bottle/*'

When the bottle's containers are gone, what was saved when its agent
exited is exported. Exits 1 when there are no new commits or the bundle
fails verification.`,
		Example: `  bot-bottle export impl-k3x9q ~/review/
  bot-bottle export impl-k3x9q ./patches --patch`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd.Context(), env, args[0], args[1], patch)
		},
	}
	cmd.Flags().BoolVar(&patch, "patch", false, "write a patch series into the directory DEST instead of a bundle")
	return cmd
}

func runExport(ctx context.Context, env Env, slug, dest string, patch bool) error {
	dir, err := bottleStateDir(env, slug)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(dest) {
		dest = filepath.Join(env.Cwd, dest)
	}
	be, closeEngine := workspaceBottle(ctx, env)
	defer closeEngine()
	if patch {
		names, saved, err := workspace.Patches(ctx, be, slug, dir, dest)
		noteSaved(env.Stderr, slug, saved)
		if err != nil {
			return exportError(slug, err)
		}
		for _, n := range names {
			fmt.Fprintln(env.Stdout, filepath.Join(dest, n))
		}
		return nil
	}
	dest, err = bundlePath(dest, slug)
	if err != nil {
		return err
	}
	h, saved, err := workspace.Bundle(ctx, be, slug, dir, dest)
	noteSaved(env.Stderr, slug, saved)
	if err != nil {
		return exportError(slug, err)
	}
	var refs []string
	for _, r := range h.Refs {
		refs = append(refs, r.Name)
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %s, on top of %d commit(s) you have\n", dest, strings.Join(refs, " "), len(h.Prerequisites))
	fmt.Fprintf(env.Stdout, "review it with: git fetch %s 'refs/heads/*:refs/remotes/%s/*'\n", dest, slug)
	return nil
}

// bundlePath is where the bundle goes: dest itself when it names a
// .bundle file (its directory must exist), else dest/slug.bundle with dest
// made when missing. Errors name the user's path, not a temp file.
func bundlePath(dest, slug string) (string, error) {
	if strings.HasSuffix(dest, ".bundle") {
		if st, err := os.Stat(dest); err == nil && st.IsDir() {
			return filepath.Join(dest, slug+".bundle"), nil
		}
		parent := filepath.Dir(dest)
		if st, err := os.Stat(parent); err != nil || !st.IsDir() {
			return "", usageError(fmt.Errorf("export destination %s: directory %s does not exist", dest, parent))
		}
		return dest, nil
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return "", usageError(fmt.Errorf("export destination %s: cannot make the directory: %w", dest, err))
	}
	return filepath.Join(dest, slug+".bundle"), nil
}

func exportError(slug string, err error) error {
	if errors.Is(err, workspace.ErrNoCommits) || errors.Is(err, workspace.ErrNotBundle) || strings.Contains(err.Error(), "verifying bundle") {
		return found(fmt.Errorf("exporting %s: %w", slug, err))
	}
	return fmt.Errorf("exporting %s: %w", slug, err)
}

func noteSaved(w io.Writer, slug string, saved bool) {
	if saved {
		fmt.Fprintf(w, "bot-bottle: the agent of %s is not running: using what was saved when it last exited\n", slug)
	}
}

// bottleStateDir is the state of bottle slug, which must exist.
func bottleStateDir(env Env, slug string) (string, error) {
	root, err := stateRootDir(env)
	if err != nil {
		return "", err
	}
	if strings.ContainsAny(slug, `/\`) || slug == "." || slug == ".." || slug == "" {
		return "", usageError(fmt.Errorf("bad bottle slug %q", slug))
	}
	dir := filepath.Join(root, slug)
	if _, err := lifecycle.ReadMetadata(dir); err != nil {
		return "", found(fmt.Errorf("no bottle %s: %w", slug, err))
	}
	return dir, nil
}

// workspaceBottle is the configured engines, or, when no engine answers, one
// that says so on every call (what was saved at exit still exports).
func workspaceBottle(ctx context.Context, env Env) (workspace.Bottle, func()) {
	be, closeEngine, err := openEngineSet(ctx, env)
	if err != nil {
		return unavailable{err}, func() {}
	}
	return be, closeEngine
}

type unavailable struct{ err error }

func (u unavailable) Exec(context.Context, string, backend.ExecSpec) (int, error) { return -1, u.err }
func (u unavailable) CopyInto(context.Context, string, string, io.Reader) error {
	return u.err
}
