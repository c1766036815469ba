package apply

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// ParseRoutes reads the routes of an egress proposal or of the operator's
// edit: a YAML list of routes or a mapping with a "routes" key, decoded
// strictly and validated by the manifest's rules (errors name the line).
func ParseRoutes(text string) ([]manifest.Route, error) {
	return manifest.ParseRoutes("routes", []byte(text))
}

// readPolicy reads a policy-shaped file (policy.yaml, approved.yaml): YAML
// with a top-level "egress:" key. A missing file is an empty policy.
func readPolicy(path string) (*manifest.Egress, []byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &manifest.Egress{}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	bf, err := manifest.ParseBottleYAML(path, b)
	if err != nil {
		return nil, b, fmt.Errorf("reading %s: %w", path, err)
	}
	if bf.Egress == nil {
		return &manifest.Egress{}, b, nil
	}
	return bf.Egress, b, nil
}

// mergeRoutes appends the routes of add that are not already in have.
func mergeRoutes(have, add []manifest.Route) ([]manifest.Route, error) {
	seen := make(map[string]bool, len(have))
	for _, r := range have {
		k, err := routeKey(r)
		if err != nil {
			return nil, err
		}
		seen[k] = true
	}
	out := append([]manifest.Route(nil), have...)
	for _, r := range add {
		k, err := routeKey(r)
		if err != nil {
			return nil, err
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// routeKey is the canonical YAML of a route: identical routes share it.
func routeKey(r manifest.Route) (string, error) {
	b, err := yaml.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encoding route %s: %w", r.Host, err)
	}
	return string(b), nil
}
