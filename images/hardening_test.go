package images

import (
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/imagebuild"
	"github.com/bot-bottle/bot-bottle/internal/provider"
)

// dockerfileEnv collects KEY=VALUE pairs from every ENV instruction
// (the form these Dockerfiles use; values hold no spaces or quotes).
func dockerfileEnv(t *testing.T, name string) map[string]string {
	t.Helper()
	b, err := Dockerfile(name)
	if err != nil {
		t.Fatal(err)
	}
	df, err := imagebuild.ParseDockerfile(b)
	if err != nil {
		t.Fatalf("parsing %s: %v", name, err)
	}
	env := map[string]string{}
	for _, in := range df.Instructions {
		if in.Cmd != "ENV" {
			continue
		}
		for _, f := range strings.Fields(in.Args) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				t.Fatalf("%s line %d: ENV %q is not KEY=VALUE", name, in.Line, f)
			}
			env[k] = v
		}
	}
	return env
}

// The agent images turn off what the provider turns off, so a process the
// provider does not start (docker exec, a setup step) is hardened too.
func TestAgentImagesSetHardeningEnv(t *testing.T) {
	for _, name := range []string{provider.Claude, provider.Codex, provider.Pi} {
		t.Run(name, func(t *testing.T) {
			spec, ok := provider.Builtin(name)
			if !ok || spec.Image != name {
				t.Fatalf("no built-in template for image %s", name)
			}
			env := dockerfileEnv(t, name)
			for k, want := range spec.Env {
				if got, ok := env[k]; !ok || got != want {
					t.Errorf("%s/Dockerfile: ENV %s=%q, want %q (as the provider sets)", name, k, got, want)
				}
			}
			// npm's update check would call the registry whenever the agent
			// runs npm.
			if env["npm_config_update_notifier"] != "false" {
				t.Errorf("%s/Dockerfile: npm_config_update_notifier not false", name)
			}
		})
	}
}
