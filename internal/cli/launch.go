package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/ca"
	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/provider"
)

// provisionPlan looks up the plan's provider template, resolves the
// agent's skills and folds the provider's routes, secret env names and env
// into p, so that start --dry-run prints what launch uses.
func provisionPlan(env Env, p *plan.Bottle, o startOptions) (provider.Provision, error) {
	spec, err := provider.Lookup(p.Provider.Template, hoststate.New(env.Home).Contrib())
	if err != nil {
		return provider.Provision{}, found(err)
	}
	skills, err := provider.ResolveSkills(spec, env.Home, p.Agent.Skills)
	if err != nil {
		return provider.Provision{}, found(err)
	}
	prov, err := spec.Provision(provider.Input{
		Headless:               o.headless,
		Prompt:                 o.prompt,
		SystemPrompt:           p.Agent.Prompt,
		AuthTokenEnv:           p.Provider.AuthTokenEnv,
		AuthKind:               provider.AuthKindFor(p.Provider.AuthKind, env.Getenv(p.Provider.AuthTokenEnv)),
		ForwardHostCredentials: p.Provider.ForwardHostCredentials,
		Settings:               p.Provider.Settings,
		Skills:                 skills,
		SuperviseURL:           plan.SuperviseURL(),
		CAFile:                 plan.AgentCADir + "/ca.pem",
	})
	if err != nil {
		return provider.Provision{}, found(err)
	}
	if err := plan.ApplyProvision(p, prov); err != nil {
		return provider.Provision{}, found(err)
	}
	return prov, nil
}

// launch starts plan p, provisioned by provisionPlan, on the backend
// o.backend names (openBackend) and runs the agent on the user's terminal. agentImage boots a
// committed image (resume).
func launch(ctx context.Context, env Env, p *plan.Bottle, prov provider.Provision, o startOptions, agentImage string) error {
	// Before anything is made: go install with cgo on gives a dynamic
	// binary the sidecar image cannot carry, so a static one is built
	// (while a fresh engine's base images are seeded).
	env, err := prepareFirstStart(ctx, env, o)
	if err != nil {
		return err
	}
	getenv := env.Getenv
	if prov.HostCredentials != nil {
		creds, err := provider.ReadHostCredentials(*prov.HostCredentials, env.Home, time.Now())
		if err != nil {
			return found(err)
		}
		prov.Files = append(prov.Files, creds.Files...)
		for name := range creds.SidecarEnv {
			prov.SidecarSecretEnv = append(prov.SidecarSecretEnv, name)
		}
		getenv = func(k string) string {
			if v, ok := creds.SidecarEnv[k]; ok {
				return v.Reveal()
			}
			return env.Getenv(k)
		}
	}

	be, closeEngine, err := openBackend(ctx, env, &o)
	if err != nil {
		return err
	}
	defer closeEngine()
	if o.headless {
		defer watchProposals(ctx, env.Stderr, env.Home, p.Slug, time.Second)()
	}
	var code int
	err = withSeeding(ctx, env, env.seed, func() error {
		var err error
		code, err = lifecycle.Start(ctx, p, lifecycleOptions(env, p, prov, o, be, getenv, agentImage))
		return err
	})
	if err != nil {
		var step *backend.StepError
		if errors.As(err, &step) {
			return fmt.Errorf("starting bottle %s failed while %s (everything it made is removed): %w", p.Slug, step.Step, step.Err)
		}
		return fmt.Errorf("starting bottle %s: %w", p.Slug, err)
	}
	if code != 0 {
		return found(fmt.Errorf("the agent in %s exited with status %d", p.Slug, code))
	}
	return nil
}

// lifecycleOptions are lifecycle.Start's options for plan p as launch runs it.
func lifecycleOptions(env Env, p *plan.Bottle, prov provider.Provision, o startOptions, be backend.Backend, getenv func(string) string, agentImage string) lifecycle.StartOptions {
	uid, gid := ids()
	probeBin, attestEarly := startAttestation(env, be, hoststate.Bottle(p.StateDir).Logs())
	so := lifecycle.StartOptions{
		Backend:     be,
		Provision:   prov,
		MakeCA:      makeBottleCA,
		Launch:      backend.LaunchOptions{Getenv: getenv, UID: uid, GID: gid, AgentImage: agentImage, ProbeBinary: probeBin},
		Session:     session(env, !o.headless),
		Keep:        o.keep,
		Discard:     o.rm,
		Progress:    env.Stderr,
		Workspace:   workspaceOf(env, o),
		AttestEarly: attestEarly,
	}
	if o.timings {
		so.Timings = env.Stderr
	}
	return so
}

// makeBottleCA makes the bottle CA in dir at first start and reuses it after
// (resume keeps it); the agent gets only the certificate.
func makeBottleCA(dir string) ([]byte, error) {
	c, err := ca.LoadOrCreate(dir)
	if err != nil {
		return nil, err
	}
	return c.CertPEM(), nil
}
