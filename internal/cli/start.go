package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/tui"
	"github.com/spf13/cobra"
)

type startOptions struct {
	dryRun   bool
	bottles  []string
	format   string
	label    string
	color    string
	trust    bool // --trust-repo-agent
	headless bool
	prompt   string
	keep     bool
	rm       bool // --rm: leave nothing when the start ends
	// cwd copies the working directory into /workspace (workspace.go).
	cwd              bool
	respectGitignore bool
	// backend is --backend: the engine to start on ("" = $BOT_BOTTLE_BACKEND, else the default).
	backend string
	// context and namespace place the bottle on a cluster backend.
	context, namespace string
	// timings prints the start's phase breakdown to stderr when it ends.
	timings bool
}

func newStartCmd(env Env) *cobra.Command {
	var o startOptions
	cmd := &cobra.Command{
		Use:   "start [AGENT]",
		Short: "Start an agent in its bottle",
		Long: `Start AGENT (default: shell) in its bottle. The bottle is the agent's
"bottle:" key, or the bottles given with --bottle, merged in order like
extends, or the "default" bottle.

bot-bottle builds the images it needs (offline, from two base images made
from Debian packages: on an engine without them the first start seeds both,
as root, asking sudo once when you are not root), starts the
sidecar and the agent on the engine (--backend), and attaches your terminal to
the agent: every key, Ctrl-C included, goes to the agent. When the agent
exits the bottle's containers are removed (--keep leaves them for
"bot-bottle commit", and so does "bot-bottle stop"); its state stays in
~/.bot-bottle/state/<slug> for "bot-bottle resume". With --rm nothing
stays: containers, networks, the images made for the bottle and its state
directory go when the start ends, however it ends (an audit log, kept
outside the state, stays when the operator decided anything); with --cwd
the agent's work goes too: export it from another terminal while it runs. The sidecar
image carries a static bot-bottle: a dynamic one (go install with cgo on)
builds its static copy once, cached, or says what is missing.

With --headless --prompt TEXT the agent runs its one-shot mode with TEXT
(for the shell bottle TEXT is a bash command line) and bot-bottle exits 1
when the agent fails.

With --cwd the working directory, .git included, is copied (never mounted)
into the agent's /workspace; "bot-bottle diff" and "bot-bottle export" take
the agent's work out as a diff, a git bundle or patches (docs/workspace.md).

With --timings, stderr gets the start's phase breakdown when it ends:
when each phase began and how long it took (state and CA, engine checks,
networks, the sidecar's and the agent's containers, the wait for the
sidecar, attestation, copies into the agent, the agent's first output).

With --dry-run, print the plan: the slug, the image, the egress routes, the
git-gate upstreams, the env and mounts of both containers. Token values never
appear: a route shows the env var that holds its token ($NAME), and the plan
fails if that variable is not set.

The built-in shell agent and the built-in default bottle (supervised, no
egress routes) are always there; an agent or bottle of yours with the same
name replaces them.`,
		Example: `  bot-bottle start
  bot-bottle start impl --cwd --respect-gitignore
  bot-bottle start --headless --prompt 'git --version'
  bot-bottle start --rm
  bot-bottle start --dry-run
  bot-bottle start impl --dry-run --bottle github --bottle claude
  bot-bottle start impl --dry-run --format json | jq .egress.routes`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeAgents(env),
		RunE: func(cmd *cobra.Command, args []string) error {
			agent := manifest.BuiltinAgent
			if len(args) == 1 {
				agent = args[0]
			}
			return runStart(cmd.Context(), env, agent, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and launch nothing")
	trustFlag(cmd, &o)
	f.StringArrayVar(&o.bottles, "bottle", nil, "bottle to run in (repeat to merge several, in order)")
	f.StringVar(&o.format, "format", "text", "plan output: text or json")
	f.StringVar(&o.label, "label", "", "a one-line description shown by list and supervise")
	f.StringVar(&o.color, "color", "", "the bottle's colour in list and supervise: "+strings.Join(tui.BottleColors(), ", "))
	f.BoolVar(&o.headless, "headless", false, "run the agent's one-shot mode with --prompt, no terminal")
	f.StringVar(&o.prompt, "prompt", "", "the prompt of a --headless start")
	f.BoolVar(&o.keep, "keep", false, "keep the containers when the agent exits")
	f.BoolVar(&o.rm, "rm", false, "leave nothing when the agent exits: containers, networks, images made for the bottle, its state")
	f.BoolVar(&o.timings, "timings", false, "print how long each phase of the start took (stderr, when it ends)")
	backendFlag(cmd, &o)
	workspaceFlags(cmd, &o)
	_ = cmd.RegisterFlagCompletionFunc("bottle", completeBottles(env))
	_ = cmd.RegisterFlagCompletionFunc("color", cobra.FixedCompletions(tui.BottleColors(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runStart(ctx context.Context, env Env, agent string, o startOptions) error {
	if o.format != "text" && o.format != "json" {
		return usageError(fmt.Errorf("--format %q: use text or json", o.format))
	}
	if o.format == "json" && !o.dryRun {
		// A script asking for JSON must never launch a bottle by mistake.
		return usageError(errors.New("--format json prints the plan: add --dry-run (nothing was launched)"))
	}
	if o.rm && o.keep {
		return usageError(errors.New("--rm and --keep contradict each other: --rm leaves nothing, --keep leaves the containers"))
	}
	if o.prompt != "" && !o.headless {
		return usageError(errors.New("--prompt needs --headless"))
	}
	if o.headless && strings.TrimSpace(o.prompt) == "" {
		return usageError(errors.New("--headless needs --prompt TEXT"))
	}
	if err := checkWorkspaceFlags(o); err != nil {
		return err
	}
	p, err := makePlan(env, agent, o.bottles, "", o.dryRun)
	if err != nil {
		return err
	}
	if err := applyLabel(p, o); err != nil {
		return err
	}
	if err := trustRepoAgent(env, p, o); err != nil {
		return err
	}
	prov, err := provisionPlan(env, p, o)
	if err != nil {
		return err
	}
	if !o.dryRun {
		return launch(ctx, env, p, prov, o, "")
	}
	if o.format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(p); err != nil {
			return fmt.Errorf("writing plan: %w", err)
		}
		return nil
	}
	if err := plan.WriteText(env.Stdout, p, func(path string) string { return manifest.ShortPath(env.Home, path) }); err != nil {
		return fmt.Errorf("writing plan: %w", err)
	}
	return nil
}

// makePlan loads the manifests and plans agent in bottles; slug is set on
// resume.
func makePlan(env Env, agent string, bottles []string, slug string, dryRun bool) (*plan.Bottle, error) {
	if env.Home == "" {
		return nil, errors.New("planning: home directory unknown; set HOME")
	}
	set := manifest.Load(env.Home, env.Cwd)
	printWarnings(env, set)
	res, err := set.Resolve(agent, bottles)
	if err != nil {
		return nil, foundProblems(env, err)
	}
	p, err := plan.Make(plan.Input{
		Resolved:  res,
		EnvSet:    envNames(env),
		Rand:      rand.Reader,
		StateRoot: hoststate.New(env.Home).StateRoot(),
		Slug:      slug,
		DryRun:    dryRun,
	})
	if err != nil {
		return nil, foundProblems(env, err)
	}
	for _, m := range p.Missing {
		fmt.Fprintf(env.Stderr, "bot-bottle: warning: %s\n", m)
	}
	return p, nil
}

// foundProblems prints each manifest problem on its own line and exits 1.
func foundProblems(env Env, err error) error {
	var ps manifest.Problems
	if !errors.As(err, &ps) {
		return found(err)
	}
	for _, p := range ps {
		fmt.Fprintf(env.Stderr, "bot-bottle: %s\n", p)
	}
	return found(nil)
}

// envNames is the set of env var names that are set and not empty. Values
// are not kept.
func envNames(env Env) map[string]bool {
	names := map[string]bool{}
	if env.Environ == nil {
		return names
	}
	for _, kv := range env.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" && v != "" {
			names[k] = true
		}
	}
	return names
}
