package apply

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// policyFile is the shape of policy.yaml, approved.yaml and the agent's
// current-config egress.yaml: the manifest's egress block under "egress".
type policyFile struct {
	Egress manifest.Egress `yaml:"egress"`
}

// ParseRoutes reads the routes of an egress proposal: a YAML list of
// routes, or a mapping with a "routes" key (optionally under "egress").
// Unknown keys are errors, and every route must validate.
func ParseRoutes(text string) ([]manifest.Route, error) {
	var probe yaml.Node
	if err := yaml.Unmarshal([]byte(text), &probe); err != nil {
		return nil, fmt.Errorf("parsing routes: %w", err)
	}
	if probe.Kind != yaml.DocumentNode || len(probe.Content) == 0 {
		return nil, errors.New("parsing routes: empty document")
	}
	var routes []manifest.Route
	var err error
	switch probe.Content[0].Kind {
	case yaml.SequenceNode:
		err = decodeStrict(text, &routes)
	case yaml.MappingNode:
		var m struct {
			Routes []manifest.Route `yaml:"routes"`
		}
		if hasKey(probe.Content[0], "egress") {
			var pf policyFile
			err = decodeStrict(text, &pf)
			m.Routes = pf.Egress.Routes
		} else {
			err = decodeStrict(text, &m)
		}
		routes = m.Routes
	default:
		return nil, errors.New("parsing routes: expected a list of routes or a mapping with routes")
	}
	if err != nil {
		return nil, fmt.Errorf("parsing routes: %w", err)
	}
	if len(routes) == 0 {
		return nil, errors.New("parsing routes: no routes")
	}
	for i, r := range routes {
		if err := validateRoute(r); err != nil {
			return nil, fmt.Errorf("route %d (%s): %w", i+1, r.Host, err)
		}
	}
	return routes, nil
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

func decodeStrict(text string, v any) error {
	d := yaml.NewDecoder(bytes.NewReader([]byte(text)))
	d.KnownFields(true)
	if err := d.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// agentSafe reports why a route may not be approved as the agent wrote it:
// keys that only the operator may add (DESIGN.md, Supervision). The
// operator can still accept them by modifying the proposal.
func agentSafe(r manifest.Route) error {
	switch {
	case r.Auth != nil:
		return errors.New("carries auth")
	case r.UnsafeAllowPrivate:
		return errors.New("sets unsafe_allow_private")
	case r.Git != nil:
		return errors.New("sets git")
	}
	if d := r.DLP; d != nil {
		if d.OutboundDetectors != nil || d.InboundDetectors != nil {
			return errors.New("changes dlp detectors")
		}
		switch d.OutboundOnMatch {
		case "", "supervise", "block":
		default:
			return fmt.Errorf("sets dlp outbound_on_match %q", d.OutboundOnMatch)
		}
	}
	return nil
}

// readPolicy reads a policy-shaped file; a missing file is an empty policy.
func readPolicy(path string) (policyFile, []byte, error) {
	var pf policyFile
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return pf, nil, nil
	}
	if err != nil {
		return pf, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := decodeStrict(string(b), &pf); err != nil {
		return pf, b, fmt.Errorf("reading %s: %w", path, err)
	}
	return pf, b, nil
}

func marshalPolicy(pf policyFile) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(pf); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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

// validateRoute is a stand-in until manifest.ValidateRoute lands on main.
func validateRoute(r manifest.Route) error {
	if r.Host == "" {
		return errors.New("route has no host")
	}
	return nil
}
