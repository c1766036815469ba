package apply

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/supervise/agentcheck"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// change is what applying a decision did to the file it touches.
type change struct{ before, after string }

// Modes: the policy and the agent's current config hold no secret values
// (token_ref names only) and must be readable by the sidecar and agent
// users; what only the host reads stays 0600. An existing file keeps its
// mode.
const (
	modeShared  fs.FileMode = 0o644
	modePrivate fs.FileMode = 0o600
)

// apply carries out an approval of p with file (the proposed file, or the
// operator's edit when modified).
func (o *Operator) apply(paths Paths, p queue.Proposal, file string, modified bool) (change, error) {
	switch p.Tool {
	case queue.ToolEgressAllow, queue.ToolEgressBlock:
		// The agent's own text is checked, not the operator's scoped copy
		// (whose grant only the operator may set).
		routes, err := ParseRoutes(p.ProposedFile)
		if !modified && err != nil {
			return change{}, fmt.Errorf("%w: %w", ErrRefused, err)
		}
		if !modified {
			for _, r := range routes {
				if err := agentcheck.AgentSafe(r); err != nil {
					return change{}, fmt.Errorf("%w: route %s %v: only the operator may add that; modify the proposal to accept it", ErrRefused, r.Host, err)
				}
			}
		}
		return mergeEgress(paths, file)
	case queue.ToolCapabilityBlock:
		file, err := agentcheck.Dockerfile(file)
		if err != nil {
			return change{}, fmt.Errorf("%w: dockerfile: %w", ErrRefused, err)
		}
		before, after, err := capabilities(paths, p, file)
		if err != nil {
			return change{}, err
		}
		if err := writeKeepMode(paths.Capabilities(), []byte(after), modePrivate); err != nil {
			return change{}, err
		}
		if err := writeCurrentConfig(paths, "capabilities.Dockerfile", []byte(after)); err != nil {
			return change{}, err
		}
		return change{queue.HashFile([]byte(before)), queue.HashFile([]byte(after))}, nil
	}
	// gitleaks-allow and egress-token-allow change no file: the raiser
	// lets the held push or request go when it reads the answer.
	before, after, err := unchanged(paths, p.Tool)
	return change{before, after}, err
}

// mergeEgress merges the routes of file into approved.yaml and the live
// policy, then refreshes the agent's current-config. Without a live policy
// (the bottle was never started) only approved.yaml changes: the next start
// builds the policy from the manifest plus approved.yaml, and a policy made
// of approved routes alone would drop the manifest's.
func mergeEgress(paths Paths, file string) (change, error) {
	routes, err := ParseRoutes(file)
	if err != nil {
		return change{}, err
	}
	approved, _, err := readPolicy(paths.Approved())
	if err != nil {
		return change{}, err
	}
	approved.Routes, err = mergeRoutes(approved.Routes, routes)
	if err != nil {
		return change{}, err
	}
	live, raw, err := readPolicy(paths.Policy())
	if err != nil {
		return change{}, err
	}
	live.Routes, err = mergeRoutes(live.Routes, routes)
	if err != nil {
		return change{}, err
	}
	ab, err := manifest.MarshalPolicy(approved)
	if err != nil {
		return change{}, err
	}
	lb, err := manifest.MarshalPolicy(live)
	if err != nil {
		return change{}, err
	}
	// approved.yaml first: a crash between the two leaves the route kept
	// for resume, never live but unrecorded.
	if err := writeKeepMode(paths.Approved(), ab, modePrivate); err != nil {
		return change{}, err
	}
	if raw == nil {
		h := queue.HashFile(nil)
		return change{h, h}, nil
	}
	if err := writeKeepMode(paths.Policy(), lb, modeShared); err != nil {
		return change{}, err
	}
	if err := writeCurrentConfig(paths, "egress.yaml", lb); err != nil {
		return change{}, err
	}
	return change{queue.HashFile(raw), queue.HashFile(lb)}, nil
}

// unchanged returns the hash of the file a tool's decision would touch, as
// both before and after: a rejection changes nothing.
func unchanged(paths Paths, tool string) (string, string, error) {
	path := paths.Policy()
	if tool == queue.ToolCapabilityBlock {
		path = paths.Capabilities()
	}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("reading %s: %w", path, err)
	}
	h := queue.HashFile(b)
	return h, h, nil
}

// stale reports whether the file an egress or capability proposal was
// made against has changed since.
func stale(paths Paths, p queue.Proposal) bool {
	if p.CurrentFileHash == "" || !Editable(p.Tool) {
		return false
	}
	h, _, err := unchanged(paths, p.Tool)
	return err == nil && h != p.CurrentFileHash
}

// capabilities returns approved.Dockerfile before and after appending file.
func capabilities(paths Paths, p queue.Proposal, file string) (string, string, error) {
	b, err := os.ReadFile(paths.Capabilities())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("reading %s: %w", paths.Capabilities(), err)
	}
	before := string(b)
	var sb strings.Builder
	sb.WriteString(before)
	if before != "" && !strings.HasSuffix(before, "\n") {
		sb.WriteByte('\n')
	}
	fmt.Fprintf(&sb, "# proposal %s (%s)\n", p.ID, p.BottleSlug)
	sb.WriteString(strings.TrimRight(file, "\n"))
	sb.WriteByte('\n')
	return before, sb.String(), nil
}

// Preview returns the file the decision touches as it is and as it would be
// after approving it with file (the proposal's own file, or an edit). For
// tools that change no file, before is "" and after is the proposed file.
func (o *Operator) Preview(it Item, file string) (before, after string, err error) {
	paths := o.paths(it.Slug)
	switch it.Proposal.Tool {
	case queue.ToolEgressAllow, queue.ToolEgressBlock:
		live, _, err := readPolicy(paths.Policy())
		if err != nil {
			return "", "", err
		}
		b, err := manifest.MarshalPolicy(live)
		if err != nil {
			return "", "", err
		}
		routes, err := ParseRoutes(file)
		if err != nil {
			return string(b), "", err
		}
		live.Routes, err = mergeRoutes(live.Routes, routes)
		if err != nil {
			return string(b), "", err
		}
		a, err := manifest.MarshalPolicy(live)
		return string(b), string(a), err
	case queue.ToolCapabilityBlock:
		// Show exactly what would be appended: the checked, cleaned lines.
		clean, err := agentcheck.Dockerfile(file)
		if err != nil {
			return "", "", fmt.Errorf("dockerfile: %w", err)
		}
		return capabilities(paths, it.Proposal, clean)
	}
	return "", file, nil
}

// Summarize says in one line what a proposal asks for.
// ClaimPrefix begins the summary of an egress-block whose refused request
// the proxy never recorded.
const ClaimPrefix = "[not seen by the proxy — the agent's claim] "

func Summarize(p queue.Proposal) string {
	switch p.Tool {
	case queue.ToolEgressAllow, queue.ToolEgressBlock:
		routes, err := ParseRoutes(p.ProposedFile)
		if err != nil {
			return "invalid routes: " + firstLine(err.Error())
		}
		hosts := make([]string, 0, len(routes))
		for _, r := range routes {
			hosts = append(hosts, r.Host)
		}
		if queue.Unproven(p) {
			return ClaimPrefix + "allow " + strings.Join(hosts, ", ")
		}
		return "allow " + strings.Join(hosts, ", ")
	case queue.ToolCapabilityBlock:
		var lines []string
		for _, l := range strings.Split(p.ProposedFile, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				lines = append(lines, t)
			}
		}
		if len(lines) == 0 {
			return "(no lines)"
		}
		if len(lines) > 1 {
			return fmt.Sprintf("%s (+%d lines)", lines[0], len(lines)-1)
		}
		return lines[0]
	}
	if s := firstLine(p.ProposedFile); s != "" {
		return s
	}
	return firstLine(p.Justification)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// writeKeepMode writes path atomically, keeping the mode of the file it
// replaces, or def for a new file.
func writeKeepMode(path string, b []byte, def fs.FileMode) error {
	mode := def
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	return writeFileMode(path, b, mode)
}

func dirOf(path string) string { return filepath.Dir(path) }

// RefreshCurrentConfig rewrites the agent's read-only view of the bottle's
// config (supervise/current-config/) from the host state: egress.yaml from
// the live policy, capabilities.Dockerfile from the approved image changes.
// Decide keeps it current; a backend calls it when it (re)starts a bottle.
// Neither file holds a secret value: routes name tokens by token_ref only.
func RefreshCurrentConfig(home, slug string) error {
	paths := Paths{Home: home, Slug: slug}
	live, raw, err := readPolicy(paths.Policy())
	if err != nil {
		return err
	}
	if raw != nil {
		b, err := manifest.MarshalPolicy(live)
		if err != nil {
			return err
		}
		if err := writeCurrentConfig(paths, "egress.yaml", b); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(paths.Capabilities())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", paths.Capabilities(), err)
	}
	return writeCurrentConfig(paths, "capabilities.Dockerfile", b)
}

// writeCurrentConfig writes one file of the agent's read-only config view.
// The directory is made traversable (0755) when this creates it: the agent
// runs as another user and must read it through the mount.
func writeCurrentConfig(paths Paths, name string, b []byte) error {
	if err := os.MkdirAll(paths.CurrentConfig(), 0o755); err != nil {
		return fmt.Errorf("writing current config: %w", err)
	}
	return writeKeepMode(filepath.Join(paths.CurrentConfig(), name), b, modeShared)
}
