// Package agentcheck parses and checks what an agent proposes through the
// supervise tools (egress routes as YAML, Dockerfile lines) before anything
// reaches the queue, so a malformed or over-reaching proposal is an error the
// agent can fix, never a queue entry (DESIGN.md, Supervision).
package agentcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// Limits on a routes proposal: enough for any honest request, small enough
// that a hostile one cannot flood the operator or the parser.
const (
	MaxRoutesBytes = 32 << 10
	MaxRoutes      = 32
)

// ParseRoutes strictly decodes routes in the manifest's route schema: a YAML
// list of routes, or a mapping with only a "routes" key. The manifest
// package decodes and validates them (unknown keys and invalid values fail
// with their line); on top of it a proposal must be one document, within
// the size limits, and hold at least one route. It does not apply the
// agent's restrictions: see AgentRoutes.
func ParseRoutes(text string) ([]manifest.Route, error) {
	if len(text) > MaxRoutesBytes {
		return nil, fmt.Errorf("routes are %d bytes; the limit is %d", len(text), MaxRoutesBytes)
	}
	routes, err := manifest.ParseRoutes("routes", []byte(text))
	if err != nil {
		return nil, err
	}
	d := yaml.NewDecoder(strings.NewReader(text))
	var top, extra yaml.Node
	if err := d.Decode(&top); err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	if err := d.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("routes: give one YAML document, not several")
	}
	if m := top.Content[0]; m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := m.Content[i]; k.Value != "routes" {
				return nil, fmt.Errorf("routes:%d: %q: a proposal holds only routes", k.Line, k.Value)
			}
		}
	}
	if len(routes) > MaxRoutes {
		return nil, fmt.Errorf("%d routes in one proposal; the limit is %d", len(routes), MaxRoutes)
	}
	return routes, nil
}

// AgentRoutes is ParseRoutes plus AgentSafe on every route: what the MCP
// server accepts from the agent.
func AgentRoutes(text string) ([]manifest.Route, error) {
	routes, err := ParseRoutes(text)
	if err != nil {
		return nil, err
	}
	for i, r := range routes {
		if err := AgentSafe(r); err != nil {
			return nil, fmt.Errorf("route %d (host %q): %w", i+1, r.Host, err)
		}
	}
	return routes, nil
}

// AgentSafe reports why an agent may not propose route r: the keys only the
// operator may add (DESIGN.md, Supervision), because one approval must never
// send a held token to a new host, reach the private network, open git, or
// switch scanning off. The operator can still add them by modifying the
// proposal.
//
// "Weakens dlp" means, against the defaults of a route with no dlp block:
//   - outbound_detectors is false, or a list missing token_patterns or
//     known_secrets (adding entropy is stricter and allowed);
//   - inbound_detectors is false, or a list missing naive_injection_detection;
//   - outbound_on_match is redact: the request then leaves, altered, with
//     nobody looking. supervise (the default) and block are allowed.
func AgentSafe(r manifest.Route) error {
	switch {
	case r.Auth != nil:
		return errors.New("auth is not allowed in a proposed route: only the operator can attach a token to a host")
	case r.UnsafeAllowPrivate:
		return errors.New("unsafe_allow_private is not allowed in a proposed route: only the operator can open the private network")
	case r.Grant != nil:
		return errors.New("grant is not allowed in a proposed route: the operator sets a grant's limits when approving")
	case r.Git != nil:
		return errors.New("git is not allowed in a proposed route: only the operator can allow git over HTTPS; push through the git-gate remote")
	}
	d := r.DLP
	if d == nil {
		return nil
	}
	if err := notWeaker("outbound_detectors", d.OutboundDetectors, []string{"token_patterns", "known_secrets"}); err != nil {
		return err
	}
	if err := notWeaker("inbound_detectors", d.InboundDetectors, []string{"naive_injection_detection"}); err != nil {
		return err
	}
	switch d.OutboundOnMatch {
	case "", "supervise", "block":
		return nil
	}
	return fmt.Errorf("dlp.outbound_on_match %q weakens scanning: a proposed route may use supervise (the default) or block", d.OutboundOnMatch)
}

// notWeaker checks detectors against defaults, the detectors of a route
// with no dlp block.
func notWeaker(field string, ds *manifest.Detectors, defaults []string) error {
	if ds == nil {
		return nil
	}
	if ds.Off {
		return fmt.Errorf("dlp.%s: false switches scanning off; a proposed route may not weaken dlp (drop the dlp block)", field)
	}
	for _, want := range defaults {
		if !slices.Contains(ds.Names, want) {
			return fmt.Errorf("dlp.%s drops %s; a proposed route may not weaken dlp (keep %s, or drop the dlp block)",
				field, want, strings.Join(defaults, " and "))
		}
	}
	return nil
}

// MarshalRoutes is the canonical proposed_file of an egress proposal: a
// mapping with a routes key.
func MarshalRoutes(routes []manifest.Route) (string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(struct {
		Routes []manifest.Route `yaml:"routes"`
	}{routes}); err != nil {
		return "", fmt.Errorf("encoding routes: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("encoding routes: %w", err)
	}
	return buf.String(), nil
}
