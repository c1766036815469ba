package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/repotrust"
)

// trustFlag adds --trust-repo-agent to start and resume.
func trustFlag(cmd *cobra.Command, o *startOptions) {
	cmd.Flags().BoolVar(&o.trust, "trust-repo-agent", false, "run an agent from ./.bot-bottle/agents/ without asking (nothing is remembered)")
}

// trustRepoAgent lets the agent of plan p run only when it is not from the
// working directory, or the user confirmed this exact file (now, on the
// terminal, or before), or --trust-repo-agent says so. A refusal exits 1.
func trustRepoAgent(env Env, p *plan.Bottle, o startOptions) error {
	a, err := repoAgent(env, p)
	if err != nil || a == nil {
		return err
	}
	d, err := repotrust.Check(repotrust.NewStore(env.Home, nil), *a, repotrust.Options{
		Headless: o.headless,
		DryRun:   o.dryRun,
		Override: o.trust,
		Terminal: terminal(env),
	})
	if err != nil {
		return fmt.Errorf("checking repository agent %q: %w", p.Agent.Name, err)
	}
	if !d.Run {
		return found(errors.New(d.Reason))
	}
	fmt.Fprintf(env.Stderr, "bot-bottle: %s\n", d.Reason)
	return nil
}

// repoAgent is the plan's agent as repotrust shows it, or nil when the
// agent does not come from ./.bot-bottle/agents/. The file is read again
// for its hash and must still say what the plan was made from.
func repoAgent(env Env, p *plan.Bottle) (*repotrust.Agent, error) {
	set := manifest.Load(env.Home, env.Cwd)
	ma := set.Agents[p.Agent.Name]
	if ma == nil || !ma.FromCwd {
		return nil, nil
	}
	path := filepath.Join(env.Cwd, ".bot-bottle", "agents", p.Agent.Name+".md")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading repository agent: %w", err)
	}
	spec, body, err := manifest.ParseAgent(ma.File, data)
	if err != nil {
		return nil, found(fmt.Errorf("repository agent %s: %w", ma.File, err))
	}
	if body != p.Agent.Prompt || !slices.Equal(spec.Skills, p.Agent.Skills) {
		return nil, found(fmt.Errorf("repository agent %s changed while bot-bottle was starting it; start again", ma.File))
	}
	a := &repotrust.Agent{
		Name:    p.Agent.Name,
		File:    ma.File,
		Content: data,
		Prompt:  body,
		AsksFor: spec.Bottle,
		Bottles: p.Bottles,
		Skills:  spec.Skills,
		Tokens:  p.SidecarSecretEnv,
	}
	if g := spec.GitGate; g != nil && g.User != nil {
		a.GitUser = fmt.Sprintf("%s <%s>", g.User.Name, g.User.Email)
	}
	for _, r := range p.Egress.Routes {
		if !slices.Contains(a.Hosts, r.Host) {
			a.Hosts = append(a.Hosts, r.Host)
		}
	}
	for _, r := range p.GitGate.Repos {
		a.Repos = append(a.Repos, r.Name+" ("+r.URL+")")
	}
	return a, nil
}

// terminal is the user's terminal when stdin is one, else nil: questions
// go to stderr so that stdout stays the command's output.
func terminal(env Env) *repotrust.Terminal {
	in, ok := env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(in.Fd()) {
		return nil
	}
	return &repotrust.Terminal{In: in, Out: env.Stderr}
}
