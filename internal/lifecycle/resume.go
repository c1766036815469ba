package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/atomicfile"
	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// RunFile records what a bottle's last run was given, so a resume can say
// what changed.
const RunFile = "last-run.json"

// Run is the part of a plan a person cares about between runs: names
// only, never a value.
type Run struct {
	Bottles []string `json:"bottles"`
	// Routes are the manifest's and provider's routes, one line each.
	Routes []string `json:"routes"`
	// Repos are the git-gate upstreams, "name url".
	Repos []string `json:"repos"`
	// Env are the names of the agent's environment variables.
	Env []string `json:"env"`
	// EnvDigests are a digest of each Env value by name, so a changed
	// value is noticed while the record (and the resume note) hold none.
	EnvDigests map[string]string `json:"env_digests,omitempty"`
	// SecretEnv are the names of the host variables the sidecar gets.
	SecretEnv []string `json:"secret_env"`
	Template  string   `json:"template"`
}

// RunOf summarises p (after ApplyProvision).
func RunOf(p *plan.Bottle) Run {
	r := Run{
		Bottles:   slices.Clone(p.Bottles),
		Env:       slices.Sorted(maps.Keys(p.AgentEnv)),
		SecretEnv: slices.Clone(p.SidecarSecretEnv),
		Template:  p.Provider.Template,
	}
	r.EnvDigests = envDigests(p)
	for _, rt := range p.Egress.Routes {
		r.Routes = append(r.Routes, RouteLine(rt))
	}
	for _, rp := range p.GitGate.Repos {
		r.Repos = append(r.Repos, rp.Name+" "+rp.URL)
	}
	return r
}

// envDigests digests the agent env values, leaving out the sentinels,
// which are fresh every run and so would always differ.
func envDigests(p *plan.Bottle) map[string]string {
	d := make(map[string]string, len(p.AgentEnv))
	for k, v := range p.AgentEnv {
		if _, sentinel := p.SidecarEnv[manifest.SentinelEnvPrefix+k]; sentinel {
			continue
		}
		sum := sha256.Sum256([]byte(v))
		d[k] = hex.EncodeToString(sum[:])
	}
	return d
}

// RouteLine is a route on one line: its host and what narrows it.
func RouteLine(rt manifest.Route) string {
	var b strings.Builder
	b.WriteString(rt.Host)
	if rt.Auth != nil {
		fmt.Fprintf(&b, " (token $%s)", rt.Auth.TokenRef)
	}
	if len(rt.Matches) > 0 {
		m, _ := json.Marshal(rt.Matches)
		fmt.Fprintf(&b, " matches %s", m)
	}
	return b.String()
}

// ReadRun reads the record of the last run in dir (ok false when none).
func ReadRun(dir string) (Run, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("reading the last run: %w", err)
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return Run{}, false, fmt.Errorf("reading %s: %w", filepath.Join(dir, RunFile), err)
	}
	return r, true, nil
}

// WriteRun records r as the last run in dir.
func WriteRun(dir string, r Run) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, RunFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("recording the run: %w", err)
	}
	return nil
}

// Changes lists what differs from old to cur, one "+ kind thing" or
// "- kind thing" line each, in a stable order.
func Changes(old, cur Run) []string {
	var out []string
	diff := func(kind string, a, b []string) {
		for _, x := range b {
			if !slices.Contains(a, x) {
				out = append(out, "+ "+kind+" "+x)
			}
		}
		for _, x := range a {
			if !slices.Contains(b, x) {
				out = append(out, "- "+kind+" "+x)
			}
		}
	}
	if old.Template != cur.Template {
		out = append(out, fmt.Sprintf("~ template %s → %s", old.Template, cur.Template))
	}
	diff("bottle", old.Bottles, cur.Bottles)
	diff("route", old.Routes, cur.Routes)
	diff("repo", old.Repos, cur.Repos)
	diff("env", old.Env, cur.Env)
	for _, k := range cur.Env { // names only: a value is never shown
		if a, b := old.EnvDigests[k], cur.EnvDigests[k]; a != "" && b != "" && a != b {
			out = append(out, "~ env "+k+" (value changed)")
		}
	}
	diff("secret env", old.SecretEnv, cur.SecretEnv)
	return out
}

// noteRun prints, on a resume, what changed since the last run and how
// many approved routes are kept, then records this run.
func noteRun(p *plan.Bottle, w io.Writer) error {
	cur := RunOf(p)
	old, had, err := ReadRun(p.StateDir)
	if err != nil {
		return err
	}
	if had {
		changes := Changes(old, cur)
		if len(changes) == 0 {
			fmt.Fprintln(w, "• resuming: manifests unchanged since the last run")
		} else {
			fmt.Fprintln(w, "• resuming: changed since the last run:")
			for _, c := range changes {
				fmt.Fprintf(w, "    %s\n", c)
			}
		}
		approved := hoststate.Bottle(p.StateDir).Approved()
		if _, err := os.Stat(approved); err == nil {
			e, err := manifest.LoadEgressFile(approved)
			if err != nil {
				return fmt.Errorf("reading approved routes: %w", err)
			}
			fmt.Fprintf(w, "• keeping %d route(s) approved in earlier runs (%s)\n", len(e.Routes), approved)
		}
	}
	return WriteRun(p.StateDir, cur)
}
