package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/workspace"
)

func newResumeCmd(env Env) *cobra.Command {
	var o startOptions
	var fresh bool
	cmd := &cobra.Command{
		Use:   "resume SLUG",
		Short: "Start a bottle again from its saved state",
		Long: `Start bottle SLUG again: the agent and bottles recorded in its
metadata.json are planned afresh (so manifest edits apply), with the same
slug, CA, approved routes and audit log. When "bot-bottle commit" recorded
an image, the agent boots from it. Leftover containers of SLUG are removed
first. A bottle with no commit is not resumed (its /workspace would start
empty) unless --cwd copies a workspace in or --fresh-workspace says an
empty one is wanted.

Before the agent starts, resume prints what changed in the plan since the
last run (bottles, routes, repos, env names, and
the names of env values that changed) and how many approved routes
it keeps; approved image changes are built on (see docs/workspace.md). A
bottle whose manifests no longer load is not resumed; the problems are
printed and the exit status is 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.prompt != "" && !o.headless {
				return usageError(errors.New("--prompt needs --headless"))
			}
			if err := checkWorkspaceFlags(o); err != nil {
				return err
			}
			slug := args[0]
			root, err := stateRootDir(env)
			if err != nil {
				return err
			}
			meta, err := lifecycle.ReadMetadata(filepath.Join(root, slug))
			if err != nil {
				return found(fmt.Errorf("resuming %s: %w", slug, err))
			}
			if err := checkRestorable(slug, filepath.Join(root, slug), meta, o.cwd || fresh); err != nil {
				return err
			}
			p, err := makePlan(env, meta.Agent, meta.Bottles, slug, false)
			if err != nil {
				fmt.Fprintf(env.Stderr, "bot-bottle: not resuming %s: agent %s in %s no longer plans (fix the manifests and try again)\n", slug, meta.Agent, strings.Join(meta.Bottles, "+"))
				return err
			}
			p.Label, p.Color = meta.Label, meta.Color
			if err := trustRepoAgent(env, p, o); err != nil {
				return err
			}
			prov, err := provisionPlan(env, p, o)
			if err != nil {
				return err
			}
			be, closeEngine, err := openEngineSet(cmd.Context(), env)
			if err != nil {
				return err
			}
			list, err := be.List(cmd.Context())
			if err == nil && slices.ContainsFunc(list, func(s backend.Summary) bool { return s.Slug == slug && s.State == "running" }) {
				err = found(fmt.Errorf("bottle %s is running: stop it first (bot-bottle stop %s)", slug, slug))
			}
			if err == nil {
				err = be.Remove(cmd.Context(), slug)
			}
			closeEngine()
			if err != nil {
				return err
			}
			if o.backend == "" {
				o.backend = meta.Backend // where it ran, where its committed image is
			}
			return launch(cmd.Context(), env, p, prov, o, meta.Image)
		},
	}
	f := cmd.Flags()
	trustFlag(cmd, &o)
	f.BoolVar(&o.headless, "headless", false, "run the agent's one-shot mode with --prompt, no terminal")
	f.StringVar(&o.prompt, "prompt", "", "the prompt of a --headless resume")
	f.BoolVar(&o.keep, "keep", false, "keep the containers when the agent exits")
	f.BoolVar(&fresh, "fresh-workspace", false, "resume a bottle with no commit: the agent's files, /workspace included, start empty")
	workspaceFlags(cmd, &o)
	return cmd
}

// checkRestorable refuses to resume a bottle whose agent would come back
// with nothing: no committed image, no copy-in, no --fresh-workspace.
func checkRestorable(slug, dir string, meta lifecycle.Metadata, copyInOrFresh bool) error {
	if meta.Image != "" || copyInOrFresh {
		return nil
	}
	msg := fmt.Sprintf("not resuming %s: it has no commit, so the agent would start with an empty /workspace.\n"+
		"  To keep its files, run \"bot-bottle commit %s\" while its containers are still there (after \"bot-bottle stop %s\"), then resume;\n"+
		"  or start afresh with \"bot-bottle start %s\", or resume with --cwd (copy the working directory in) or --fresh-workspace",
		slug, slug, slug, meta.Agent)
	if _, err := os.Stat(filepath.Join(workspace.StateDir(dir), workspace.LastBundle)); err == nil {
		msg += fmt.Sprintf(".\n  The agent's commits from its last run are kept: \"bot-bottle export %s DIR\"", slug)
	}
	return found(errors.New(msg))
}
