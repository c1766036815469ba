package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// Input is everything Make may use. Nothing else is read.
type Input struct {
	// Resolved is the agent and its bottle(s), each folded along extends.
	Resolved *manifest.Resolved
	// EnvSet holds the names of the host env vars that are set (and not
	// empty). Values are never handed to Make.
	EnvSet map[string]bool
	// Rand is read for the slug's random suffix (unless Slug is set) and
	// for each placeholder's sentinel (crypto/rand.Reader in production, a
	// fixed reader in tests); a placeholder without it fails the plan.
	Rand io.Reader
	// Slug, when set, is used as is (resume).
	Slug string
	// StateRoot is ~/.bot-bottle/state.
	StateRoot string
	// ImageTag tags the images; "" means "latest".
	ImageTag string
	// DryRun plans even when a token's env var is not set: the plan names
	// it in MissingSecretEnv and Missing says why, for the user to see.
	DryRun bool
}

// slugAlphabet is what the slug's random suffix is drawn from.
const slugAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// Make builds the plan. Every missing token_ref or auth_token env var is a
// problem naming the variable and the route; all are returned at once as
// manifest.Problems.
func Make(in Input) (*Bottle, error) {
	r := in.Resolved
	if r == nil || r.Agent == nil || r.Agent.Spec == nil {
		return nil, errors.New("making plan: no resolved agent")
	}
	if len(r.Bottles) == 0 {
		return nil, errors.New("making plan: no bottle")
	}
	slug := in.Slug
	if slug == "" {
		suffix, err := randomSuffix(in.Rand)
		if err != nil {
			return nil, fmt.Errorf("making slug: %w", err)
		}
		slug = r.Agent.Name + "-" + suffix
	}

	specs := make([]*manifest.BottleFile, len(r.Bottles))
	names := make([]string, len(r.Bottles))
	files := []string{}
	if !r.Agent.Builtin {
		files = append(files, r.Agent.File)
	}
	for i, b := range r.Bottles {
		specs[i], names[i] = b.Spec, b.Name
		files = append(files, b.Files...)
	}
	merged := manifest.MergeBottles(specs...)

	p := &Bottle{
		Schema:   SchemaVersion,
		Slug:     slug,
		Label:    r.Agent.Name + " in " + strings.Join(names, "+"),
		Bottles:  names,
		Files:    files,
		StateDir: filepath.Join(in.StateRoot, slug),
		Agent: Agent{
			Name:   r.Agent.Name,
			Prompt: r.Agent.Prompt,
			Skills: append([]string{}, r.Agent.Spec.Skills...),
		},
		Provider: provider(merged.AgentProvider),
		Egress:   egress(merged.Egress),
		GitGate:  gitGate(merged.GitGate, r.Agent.Spec.GitGate),
		Runtime:  merged.Runtime,
	}
	p.Resources = resources(merged.Resources)
	p.Capabilities = Capabilities{Routes: manifest.CapabilityRoutes(merged)}
	if !r.Agent.Builtin {
		p.Agent.File = r.Agent.File
	}
	secrets, problems := tokenSlots(p.Provider, p.Egress.Routes, in.EnvSet)
	if len(problems) > 0 && !in.DryRun {
		return nil, problems
	}
	p.Missing = problems
	for _, s := range secrets {
		if !in.EnvSet[s] {
			p.MissingSecretEnv = append(p.MissingSecretEnv, s)
		}
	}
	p.SidecarSecretEnv = secrets
	p.Images = images(p.Provider, in.ImageTag)
	p.GitConfig = append([]GitConfigEntry{}, GitConfig(DefaultGitGateURL, p.GitGate.User, p.GitGate.Repos)...)
	st := hoststate.Bottle(p.StateDir)
	p.Supervise = Supervise{
		QueueDir:                       st.Queue(),
		Port:                           SupervisePort,
		GitleaksAllowTimeoutSeconds:    DefaultHoldTimeoutSeconds,
		EgressTokenAllowTimeoutSeconds: DefaultHoldTimeoutSeconds,
	}
	p.Sidecar = sidecar(slug, p.Egress, p.GitGate.Repos)
	p.SidecarEnv = map[string]string{
		"BOT_BOTTLE_SIDECAR_DAEMONS":               strings.Join(p.Sidecar.Daemons, ","),
		"SUPERVISE_BOTTLE_SLUG":                    slug,
		"SUPERVISE_QUEUE_DIR":                      SidecarQueueDir,
		"SUPERVISE_PORT":                           strconv.Itoa(SupervisePort),
		"SUPERVISE_GITLEAKS_ALLOW_TIMEOUT_SECONDS": strconv.Itoa(p.Supervise.GitleaksAllowTimeoutSeconds),
		"EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS":       strconv.Itoa(p.Supervise.EgressTokenAllowTimeoutSeconds),
	}
	p.AgentEnv = agentEnv(merged.Env, slug)
	if err := sentinels(p, in.Rand); err != nil {
		return nil, err
	}
	p.Mounts = mounts(st)
	return p, nil
}

// sentinels gives each auth.placeholder a fresh value for this bottle: in
// the agent's env under the placeholder's name, and in the sidecar's env
// (manifest.SentinelEnvPrefix + name) so the proxy knows what to swap. A
// sentinel is worth nothing: the real value never leaves the sidecar.
func sentinels(p *Bottle, r io.Reader) error {
	for _, rt := range p.Egress.Routes {
		if rt.Auth == nil || rt.Auth.Placeholder == "" {
			continue
		}
		name := rt.Auth.Placeholder
		if _, done := p.SidecarEnv[manifest.SentinelEnvPrefix+name]; done {
			continue
		}
		v, err := randomString(r, 32)
		if err != nil {
			return fmt.Errorf("making the sentinel for %s: %w", name, err)
		}
		v = manifest.SentinelPrefix + v
		p.AgentEnv[name] = v
		p.SidecarEnv[manifest.SentinelEnvPrefix+name] = v
	}
	return nil
}

func provider(ap *manifest.AgentProvider) Provider {
	pr := Provider{Template: "shell"}
	if ap == nil {
		return pr
	}
	if ap.Template != "" {
		pr.Template = ap.Template
	}
	pr.Dockerfile = ap.Dockerfile
	pr.AuthTokenEnv = ap.AuthToken
	pr.AuthKind = ap.AuthKind
	pr.ForwardHostCredentials = ap.ForwardHostCredentials
	pr.Settings = ap.Settings
	return pr
}

func images(pr Provider, tag string) Images {
	if tag == "" {
		tag = "latest"
	}
	im := Images{
		Agent:   "bot-bottle/agent-" + pr.Template + ":" + tag,
		Sidecar: "bot-bottle/sidecar:" + tag,
	}
	if pr.Dockerfile != "" {
		// Named by the Dockerfile's path so two bottles sharing one share
		// the image.
		sum := sha256.Sum256([]byte(pr.Dockerfile))
		im.Agent = "bot-bottle/agent-custom-" + hex.EncodeToString(sum[:6]) + ":" + tag
	}
	return im
}

// egress is the policy: the merged routes and log level (default 1).
func egress(e *manifest.Egress) Egress {
	out := Egress{Log: 1, Routes: []manifest.Route{}}
	if e == nil {
		return out
	}
	out.Routes = append(out.Routes, e.Routes...)
	if e.Log != nil {
		out.Log = *e.Log
	}
	return out
}

// tokenSlots lists the env var names the sidecar needs, sorted, and a
// problem for each one that is not set.
func tokenSlots(pr Provider, routes []manifest.Route, set map[string]bool) ([]string, manifest.Problems) {
	var problems manifest.Problems
	slots := map[string]bool{}
	need := func(name, where string) {
		slots[name] = true
		if !set[name] {
			problems = append(problems, manifest.Problem{
				Message: fmt.Sprintf("%s: env var %s is not set; export it before start (its value goes only to the sidecar)", where, name),
			})
		}
	}
	if pr.AuthTokenEnv != "" {
		need(pr.AuthTokenEnv, "agent_provider.auth_token")
	}
	for i, rt := range routes {
		if rt.Auth != nil && rt.Auth.TokenRef != "" {
			need(rt.Auth.TokenRef, fmt.Sprintf("egress route %d (%s) token_ref", i+1, rt.Host))
		}
	}
	return append([]string{}, slices.Sorted(maps.Keys(slots))...), problems
}

// gitGate is the gate's repos, sorted, and the commit identity with the
// agent's git-gate.user on top of the bottle's.
func gitGate(g *manifest.GitGate, agent *manifest.AgentGitGate) GitGate {
	out := GitGate{Repos: []Repo{}}
	var user *manifest.GitUser
	if g != nil {
		user = g.User
	}
	if agent != nil {
		user = manifest.MergeUser(user, agent.User)
	}
	if user != nil {
		out.User = *user
	}
	if g == nil {
		return out
	}
	for _, name := range slices.Sorted(maps.Keys(g.Repos)) {
		mr := g.Repos[name]
		khn := ""
		if u, err := manifest.ParseSSHURL(mr.URL); err == nil {
			khn = u.KnownHostsName()
		}
		out.Repos = append(out.Repos, Repo{
			Name:           name,
			URL:            mr.URL,
			HostKey:        mr.HostKey,
			KnownHostsName: khn,
			KeyFile:        mr.Key.Path,
			SidecarKeyFile: SidecarSSHDir + "/" + name + ".key",
			AllowForcePush: mr.AllowForcePush,
		})
	}
	return out
}

func sidecar(slug string, e Egress, repos []Repo) SidecarConfig {
	sc := SidecarConfig{
		Slug:     slug,
		Daemons:  []string{DaemonEgress, DaemonSupervise, DaemonDNS},
		LogLevel: e.Log,
		Routes:   e.Routes,
		Repos:    []SidecarRepo{},
		Aliases:  []string{EgressAlias, SuperviseAlias},
		Ports:    Ports{Egress: EgressPort, Supervise: SupervisePort, GitGate: GitGatePort, DNS: DNSPort},
	}
	if len(repos) > 0 {
		sc.Daemons = append(sc.Daemons, DaemonGitGate)
		sc.Aliases = append(sc.Aliases, GitGateAlias)
	}
	for _, rp := range repos {
		sc.Repos = append(sc.Repos, SidecarRepo{
			Name: rp.Name, URL: rp.URL, HostKey: rp.HostKey,
			KeyFile: rp.SidecarKeyFile, AllowForcePush: rp.AllowForcePush,
		})
	}
	return sc
}

// agentEnv is the bottle's env, then what makes the sidecar the agent's
// only way out, which the bottle's env cannot override
// (manifest.ReservedEnv lists these names).
func agentEnv(env map[string]string, slug string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	for k, v := range CAEnv() {
		out[k] = v
	}
	out["JAVA_TOOL_OPTIONS"] = withJavaTrust(env["JAVA_TOOL_OPTIONS"])
	for k, v := range map[string]string{
		"HTTP_PROXY":      DefaultProxyURL,
		"HTTPS_PROXY":     DefaultProxyURL,
		"http_proxy":      DefaultProxyURL,
		"https_proxy":     DefaultProxyURL,
		"NO_PROXY":        NoProxy,
		"no_proxy":        NoProxy,
		"BOT_BOTTLE_SLUG": slug,
	} {
		out[k] = v
	}
	return out
}

// mounts are directories only: a rename on the host is invisible through
// a file mount. The agent gets agent-ca/ (ca.pem only), never ca/.
func mounts(st hoststate.Bottle) []Mount {
	return []Mount{
		{Container: "sidecar", Source: st.Sidecar(), Target: SidecarConfigDir, ReadOnly: true},
		{Container: "sidecar", Source: st.Egress(), Target: SidecarEgressDir, ReadOnly: true},
		{Container: "sidecar", Source: st.CA(), Target: SidecarCADir, ReadOnly: true},
		{Container: "sidecar", Source: st.SSH(), Target: SidecarSSHDir, ReadOnly: true},
		{Container: "sidecar", Source: st.Queue(), Target: SidecarQueueDir},
		{Container: "sidecar", Source: st.Logs(), Target: SidecarLogsDir},
		{Container: "agent", Source: st.CurrentConfig(), Target: AgentConfigDir, ReadOnly: true},
		{Container: "agent", Source: st.AgentCA(), Target: AgentCADir, ReadOnly: true},
	}
}

// NoProxy is the agent's NO_PROXY: the sidecar services it reaches
// directly.
const NoProxy = "localhost,127.0.0.1,supervise,git-gate"

// randomSuffix draws five characters from slugAlphabet without modulo
// bias.
func randomSuffix(r io.Reader) (string, error) { return randomString(r, 5) }

// randomString is n characters of slugAlphabet drawn evenly from r.
func randomString(r io.Reader, n int) (string, error) {
	if r == nil {
		return "", errors.New("no random source")
	}
	out := make([]byte, 0, n)
	buf := make([]byte, 16)
	limit := byte(256 - 256%len(slugAlphabet))
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if b < limit && len(out) < n {
				out = append(out, slugAlphabet[int(b)%len(slugAlphabet)])
			}
		}
	}
	return string(out), nil
}

// resources fills the defaults into a bottle's validated resources key.
func resources(r *manifest.Resources) Resources {
	out := Resources{MemoryBytes: DefaultMemoryBytes, Pids: DefaultPids}
	if r == nil {
		return out
	}
	if m, err := manifest.ParseMemory(r.Memory); err == nil {
		out.MemoryBytes = m
	}
	out.CPUs = r.CPUs
	if r.Pids != 0 {
		out.Pids = int64(r.Pids)
	}
	return out
}
