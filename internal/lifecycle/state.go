// Package lifecycle is the host side of a bottle's life: it writes the
// bottle's state directory from its plan, drives a Backend through a start
// (launch, provision the agent, run it, tear down), and reads that state
// back for list, resume and cleanup.
package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/atomicfile"
	"github.com/bot-bottle/bot-bottle/internal/ca"
	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/oplock"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// Files in a bottle's state directory.
const (
	MetadataFile = "metadata.json"
	// PreserveFile in a state directory keeps it from cleanup.
	PreserveFile = ".preserve"
)

// Metadata is state/<slug>/metadata.json: what resume replays.
type Metadata struct {
	Slug    string   `json:"slug"`
	Agent   string   `json:"agent"`
	Bottles []string `json:"bottles"`
	Backend string   `json:"backend"`
	Label   string   `json:"label"`
	// Color is the colour name start --color gave ("" if none).
	Color string `json:"color,omitempty"`
	// Image is the committed agent image resume boots from ("" if none).
	Image   string    `json:"image,omitempty"`
	Created time.Time `json:"created"`
}

// ReadMetadata reads the metadata of the bottle whose state is dir.
func ReadMetadata(dir string) (Metadata, error) {
	b, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if err != nil {
		return Metadata{}, fmt.Errorf("reading bottle metadata: %w", err)
	}
	var m Metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return Metadata{}, fmt.Errorf("reading %s: %w", filepath.Join(dir, MetadataFile), err)
	}
	return m, nil
}

// WriteMetadata writes m into dir.
func WriteMetadata(dir string, m Metadata) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, MetadataFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing bottle metadata: %w", err)
	}
	return nil
}

// StateDirs lists the bottle state directories under root (slug → dir).
func StateDirs(root string) (map[string]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing bottle state: %w", err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			out[e.Name()] = filepath.Join(root, e.Name())
		}
	}
	return out, nil
}

// CAMaker makes (or loads) the bottle CA in dir and returns its
// certificate PEM. The CA key stays in dir, which only the sidecar mounts.
type CAMaker func(dir string) ([]byte, error)

// Prepare writes the bottle's state directory from its plan: every mount
// source (directories, created before the engine would create them as
// root), sidecar.json, the live egress policy (the plan's routes plus the
// routes approved in an earlier run), the agent's current-config, the
// gate's keys and known_hosts, and the CA.
func Prepare(p *plan.Bottle, makeCA CAMaker) error {
	for _, m := range p.Mounts {
		if err := os.MkdirAll(m.Source, 0o700); err != nil {
			return fmt.Errorf("preparing state: %w", err)
		}
		// The agent may run as another uid than the state's owner (the
		// image's user when bot-bottle runs as root): what it mounts holds
		// no secret (the CA certificate, the policy without token values)
		// and must be readable.
		if m.Container == "agent" {
			if err := os.Chmod(m.Source, 0o755); err != nil {
				return fmt.Errorf("preparing state: %w", err)
			}
		}
	}
	dir := func(parts ...string) string { return filepath.Join(append([]string{p.StateDir}, parts...)...) }
	for _, d := range []string{dir("sidecar"), dir("egress"), dir("ssh"), dir("ca"), dir("agent-ca"), dir("logs"), dir("supervise", "queue"), dir("supervise", "current-config")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("preparing state: %w", err)
		}
	}

	// The agent may run as another uid than the user: its read-only view
	// must be readable by it (it holds no secret).
	if err := os.Chmod(dir("supervise", "current-config"), 0o755); err != nil {
		return fmt.Errorf("preparing state: %w", err)
	}

	sc, err := json.MarshalIndent(p.Sidecar, "", "  ")
	if err != nil {
		return fmt.Errorf("writing sidecar.json: %w", err)
	}
	if err := atomicfile.Write(dir("sidecar", "sidecar.json"), append(sc, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing sidecar.json: %w", err)
	}

	if err := writeLivePolicy(p, dir); err != nil {
		return err
	}

	if err := writeSSH(p, dir("ssh")); err != nil {
		return err
	}

	if makeCA != nil {
		cert, err := makeCA(dir("ca"))
		if err != nil {
			return fmt.Errorf("making the bottle CA: %w", err)
		}
		if err := atomicfile.Write(dir("agent-ca", "ca.pem"), cert, 0o644); err != nil {
			return fmt.Errorf("writing the agent's CA: %w", err)
		}
		store, err := ca.TrustStore(cert)
		if err != nil {
			return fmt.Errorf("making the agent's Java trust store: %w", err)
		}
		if err := atomicfile.Write(dir("agent-ca", "truststore.p12"), store, 0o644); err != nil {
			return fmt.Errorf("writing the agent's Java trust store: %w", err)
		}
	}
	return nil
}

// livePolicy is the plan's egress plus what the operator approved before.
func livePolicy(p *plan.Bottle, approvedFile string) ([]byte, error) {
	e := &manifest.Egress{Routes: slices.Clone(p.Egress.Routes)}
	level := p.Egress.Log
	e.Log = &level
	if _, err := os.Stat(approvedFile); err == nil {
		approved, err := manifest.LoadEgressFile(approvedFile)
		if err != nil {
			return nil, fmt.Errorf("reading approved routes: %w", err)
		}
		used, err := grantUses(filepath.Join(p.StateDir, "logs", "egress.jsonl"))
		if err != nil {
			return nil, err
		}
		e.Routes = append(e.Routes, policy.CarriedGrants(policy.SpendLogged(approved.Routes, used), time.Now())...)
	}
	b, err := manifest.MarshalPolicy(e)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// grantUses counts what earlier runs spent of each grant, from the
// proxy's log; no log yet is nothing spent.
func grantUses(logPath string) (map[string]int, error) {
	f, err := os.Open(logPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("counting grant uses: %w", err)
	}
	defer f.Close()
	n, err := policy.CountGrantUses(f)
	if err != nil {
		return nil, fmt.Errorf("counting grant uses in %s: %w", logPath, err)
	}
	return n, nil
}

// writeSSH copies each repo's key (0600) and writes known_hosts with the
// pinned host keys.
func writeSSH(p *plan.Bottle, dir string) error {
	var known strings.Builder
	for _, r := range p.GitGate.Repos {
		if r.KeyFile != "" {
			key, err := os.ReadFile(r.KeyFile)
			if err != nil {
				return fmt.Errorf("reading the key of repo %s: %w", r.Name, err)
			}
			if err := atomicfile.Write(filepath.Join(dir, r.Name+".key"), key, 0o600); err != nil {
				return fmt.Errorf("writing the key of repo %s: %w", r.Name, err)
			}
		}
		if r.HostKey != "" {
			fmt.Fprintf(&known, "%s %s\n", r.KnownHostsName, strings.TrimSpace(r.HostKey))
		}
	}
	if err := atomicfile.Write(filepath.Join(dir, "known_hosts"), []byte(known.String()), 0o644); err != nil {
		return fmt.Errorf("writing known_hosts: %w", err)
	}
	return nil
}

// writeLivePolicy writes the live policy from the plan and approved.yaml
// under the operator lock: a decision or sweep by a running supervise
// reads and writes the same files.
func writeLivePolicy(p *plan.Bottle, dir func(...string) string) error {
	unlock, err := oplock.Lock(hoststate.Bottle(p.StateDir).OperatorLock())
	if err != nil {
		return err
	}
	defer unlock()
	policy, err := livePolicy(p, dir("egress", "approved.yaml"))
	if err != nil {
		return err
	}
	if err := atomicfile.Write(dir("egress", "policy.yaml"), policy, 0o600); err != nil {
		return fmt.Errorf("writing policy.yaml: %w", err)
	}
	if err := atomicfile.Write(dir("supervise", "current-config", "egress.yaml"), policy, 0o644); err != nil {
		return fmt.Errorf("writing current-config: %w", err)
	}
	return nil
}
