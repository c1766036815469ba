package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/engines"
	"github.com/bot-bottle/bot-bottle/internal/hoststate"
)

// Environment variables that tune the engine backends.
const (
	// envBaseImage replaces the base image the Dockerfiles start FROM.
	envBaseImage = "BOT_BOTTLE_BASE_IMAGE"
	// envSidecarBaseImage replaces the sidecar image's base.
	envSidecarBaseImage = "BOT_BOTTLE_SIDECAR_BASE_IMAGE"
	// envSidecarBinary is a static bot-bottle for the sidecar image when
	// the running one is not static.
	envSidecarBinary = "BOT_BOTTLE_SIDECAR_BINARY"
)

// engineConfig is what every backend takes from the environment.
func engineConfig(env Env) engines.Config {
	return engines.Config{
		Base:          env.Getenv(envBaseImage),
		SidecarBase:   env.Getenv(envSidecarBaseImage),
		SidecarBinary: env.Getenv(envSidecarBinary),
		Getenv:        env.Getenv,
	}
}

// openEngineSet connects to every configured engine as one
// backend: a slug's calls go to the engine that runs it, List shows all.
func openEngineSet(ctx context.Context, env Env) (backend.Backend, func(), error) {
	return openEngines(ctx, env, false)
}

// openEngines is openEngineSet; strict fails when a configured engine does
// not answer (cleanup must see every engine before it removes state).
func openEngines(ctx context.Context, env Env, strict bool) (backend.Backend, func(), error) {
	a, closeAll, err := engines.OpenAll(ctx, engineConfig(env), strict)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range a.Unreachable {
		fmt.Fprintf(env.Stderr, "bot-bottle: warning: %v\n", e)
	}
	return a, closeAll, nil
}

// openBackend connects to the backend a start runs on: name (--backend),
// else $BOT_BOTTLE_BACKEND, else the default engine.
func openBackend(ctx context.Context, env Env, o *startOptions) (backend.Backend, func(), error) {
	name, err := engines.Choose(o.backend, env.Getenv)
	if err != nil {
		return nil, nil, usageError(err)
	}
	c := engineConfig(env)
	c.Context, c.Namespace = o.context, o.namespace
	return engines.Open(ctx, name, c)
}

// stateRoot is ~/.bot-bottle/state.
func stateRootDir(env Env) (string, error) {
	if env.Home == "" {
		return "", fmt.Errorf("no home directory: bottle state lives in ~/.bot-bottle/state")
	}
	return hoststate.New(env.Home).StateRoot(), nil
}

// ids are the uid and gid the sidecar runs as: the invoking user's.
func ids() (int, int) { return os.Getuid(), os.Getgid() }

// backendFlag adds --backend to start.
func backendFlag(cmd *cobra.Command, o *startOptions) {
	cmd.Flags().StringVar(&o.backend, "backend", "", "the engine to run the bottle on: "+strings.Join(engines.Names(), ", ")+" (default $"+engines.EnvBackend+", else "+engines.Default+")")
	cmd.Flags().StringVar(&o.context, "context", "", "a cluster backend's kubeconfig context (default: the current one)")
	cmd.Flags().StringVar(&o.namespace, "namespace", "", "a cluster backend's namespace (default: the context's)")
	_ = cmd.RegisterFlagCompletionFunc("backend", cobra.FixedCompletions(engines.Names(), cobra.ShellCompDirectiveNoFileComp))
}
