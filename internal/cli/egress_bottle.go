package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// bottlePolicy writes the policy the bottles' sidecar would load, built by
// the code start uses (plan, then the provider's routes composed in), to
// a temporary file. It returns the file, the sidecar's non-secret env
// (sentinels) and a func that removes the file.
func bottlePolicy(env Env, agent string, bottles []string) (string, map[string]string, func(), error) {
	if agent == "" {
		agent = manifest.BuiltinAgent
	}
	p, err := makePlan(env, agent, bottles, "", false)
	if err != nil {
		return "", nil, nil, err
	}
	if _, err := provisionPlan(env, p, startOptions{bottles: bottles}); err != nil {
		return "", nil, nil, err
	}
	level := p.Egress.Log
	b, err := manifest.MarshalPolicy(&manifest.Egress{Routes: p.Egress.Routes, Log: &level})
	if err != nil {
		return "", nil, nil, err
	}
	dir, err := os.MkdirTemp("", "bot-bottle-check-")
	if err != nil {
		return "", nil, nil, fmt.Errorf("egress check: %w", err)
	}
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, nil, fmt.Errorf("egress check: %w", err)
	}
	return path, p.SidecarEnv, func() { os.RemoveAll(dir) }, nil
}

// withEnv reads over first, then getenv.
func withEnv(over map[string]string, getenv func(string) string) func(string) string {
	return func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return getenv(k)
	}
}
