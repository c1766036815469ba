package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
)

func newResumeCmd(env Env) *cobra.Command {
	var o startOptions
	cmd := &cobra.Command{
		Use:   "resume SLUG",
		Short: "Start a bottle again from its saved state",
		Long: `Start bottle SLUG again: the agent and bottles recorded in its
metadata.json are planned afresh (so manifest edits apply), with the same
slug, CA, approved routes and audit log. When "bot-bottle commit" recorded
an image, the agent boots from it. Leftover containers of SLUG are removed
first.

Before the agent starts, resume prints what changed in the plan since the
last run (bottles, routes, repos, env names) and how many approved routes
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
			be, closeEngine, err := openDocker(cmd.Context(), env)
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
	workspaceFlags(cmd, &o)
	return cmd
}
