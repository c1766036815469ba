package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
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
	// Rand is read for the slug's random suffix (crypto/rand.Reader in
	// production, a fixed reader in tests). Ignored when Slug is set.
	Rand io.Reader
	// Slug, when set, is used as is (resume).
	Slug string
	// StateRoot is ~/.bot-bottle/state.
	StateRoot string
	// ImageTag tags the images; "" means "latest".
	ImageTag string
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

	var problems manifest.Problems
	missing := func(name, where string) {
		problems = append(problems, manifest.Problem{
			Message: fmt.Sprintf("%s: env var %s is not set; export it before start (its value goes only to the sidecar)", where, name),
		})
	}

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
	}
	if !r.Agent.Builtin {
		p.Agent.File = r.Agent.File
	}

	// Provider.
	p.Provider.Template = "shell"
	if ap := merged.AgentProvider; ap != nil {
		if ap.Template != "" {
			p.Provider.Template = ap.Template
		}
		p.Provider.Dockerfile = ap.Dockerfile
		p.Provider.AuthTokenEnv = ap.AuthToken
		p.Provider.ForwardHostCredentials = ap.ForwardHostCredentials
		p.Provider.Settings = ap.Settings
	}
	secrets := map[string]bool{}
	if t := p.Provider.AuthTokenEnv; t != "" {
		secrets[t] = true
		if !in.EnvSet[t] {
			missing(t, "agent_provider.auth_token")
		}
	}

	tag := in.ImageTag
	if tag == "" {
		tag = "latest"
	}
	p.Images = Images{
		Agent:   "bot-bottle/agent-" + p.Provider.Template + ":" + tag,
		Sidecar: "bot-bottle/sidecar:" + tag,
	}
	if df := p.Provider.Dockerfile; df != "" {
		sum := sha256.Sum256([]byte(df))
		p.Images.Agent = "bot-bottle/agent-custom-" + hex.EncodeToString(sum[:6]) + ":" + tag
	}

	// Egress.
	p.Egress.Log = 1
	p.Egress.Routes = []manifest.Route{}
	if e := merged.Egress; e != nil {
		p.Egress.Routes = append(p.Egress.Routes, e.Routes...)
		if e.Log != nil {
			p.Egress.Log = *e.Log
		}
	}
	for i, rt := range p.Egress.Routes {
		if rt.Auth == nil || rt.Auth.TokenRef == "" {
			continue
		}
		secrets[rt.Auth.TokenRef] = true
		if !in.EnvSet[rt.Auth.TokenRef] {
			missing(rt.Auth.TokenRef, fmt.Sprintf("egress route %d (%s) token_ref", i+1, rt.Host))
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	p.SidecarSecretEnv = sortedSet(secrets)

	// git-gate.
	var user *manifest.GitUser
	if merged.GitGate != nil {
		user = merged.GitGate.User
	}
	if ag := r.Agent.Spec.GitGate; ag != nil {
		user = manifest.MergeUser(user, ag.User)
	}
	if user != nil {
		p.GitGate.User = *user
	}
	p.GitGate.Repos = []Repo{}
	if merged.GitGate != nil {
		for _, name := range sortedKeys(merged.GitGate.Repos) {
			mr := merged.GitGate.Repos[name]
			khn := ""
			if u, err := manifest.ParseSSHURL(mr.URL); err == nil {
				khn = u.KnownHostsName()
			}
			p.GitGate.Repos = append(p.GitGate.Repos, Repo{
				Name:           name,
				URL:            mr.URL,
				HostKey:        mr.HostKey,
				KnownHostsName: khn,
				KeyFile:        mr.Key.Path,
				SidecarKeyFile: SidecarSSHDir + "/" + name + ".key",
				AllowForcePush: mr.AllowForcePush,
			})
		}
	}
	p.GitConfig = append([]GitConfigEntry{}, GitConfig(DefaultGitGateURL, p.GitGate.User, p.GitGate.Repos)...)

	// Supervise.
	p.Supervise = Supervise{
		QueueDir:                       hoststate.Bottle(p.StateDir).Queue(),
		Port:                           SupervisePort,
		GitleaksAllowTimeoutSeconds:    DefaultHoldTimeoutSeconds,
		EgressTokenAllowTimeoutSeconds: DefaultHoldTimeoutSeconds,
	}

	// Sidecar.
	daemons := []string{DaemonEgress, DaemonSupervise, DaemonDNS}
	aliases := []string{EgressAlias, SuperviseAlias}
	if len(p.GitGate.Repos) > 0 {
		daemons = append(daemons, DaemonGitGate)
		aliases = append(aliases, GitGateAlias)
	}
	sc := SidecarConfig{
		Slug:     slug,
		Daemons:  daemons,
		LogLevel: p.Egress.Log,
		Routes:   p.Egress.Routes,
		Repos:    []SidecarRepo{},
		Aliases:  aliases,
		Ports:    Ports{Egress: EgressPort, Supervise: SupervisePort, GitGate: GitGatePort, DNS: DNSPort},
	}
	for _, rp := range p.GitGate.Repos {
		sc.Repos = append(sc.Repos, SidecarRepo{
			Name: rp.Name, URL: rp.URL, HostKey: rp.HostKey,
			KeyFile: rp.SidecarKeyFile, AllowForcePush: rp.AllowForcePush,
		})
	}
	p.Sidecar = sc
	p.SidecarEnv = map[string]string{
		"BOT_BOTTLE_SIDECAR_DAEMONS":               strings.Join(daemons, ","),
		"SUPERVISE_BOTTLE_SLUG":                    slug,
		"SUPERVISE_QUEUE_DIR":                      SidecarQueueDir,
		"SUPERVISE_PORT":                           strconv.Itoa(SupervisePort),
		"SUPERVISE_GITLEAKS_ALLOW_TIMEOUT_SECONDS": strconv.Itoa(p.Supervise.GitleaksAllowTimeoutSeconds),
		"EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS":       strconv.Itoa(p.Supervise.EgressTokenAllowTimeoutSeconds),
	}

	// Agent env: the bottle's env, then what the bottle needs to work,
	// which the bottle's env cannot override.
	p.AgentEnv = map[string]string{}
	for k, v := range merged.Env {
		p.AgentEnv[k] = v
	}
	caFile := AgentCADir + "/ca.pem"
	for k, v := range map[string]string{
		"HTTP_PROXY":           DefaultProxyURL,
		"HTTPS_PROXY":          DefaultProxyURL,
		"http_proxy":           DefaultProxyURL,
		"https_proxy":          DefaultProxyURL,
		"NO_PROXY":             NoProxy,
		"no_proxy":             NoProxy,
		"NODE_EXTRA_CA_CERTS":  caFile,
		"SSL_CERT_FILE":        caFile,
		"REQUESTS_CA_BUNDLE":   caFile,
		"CODEX_CA_CERTIFICATE": caFile,
		"BOT_BOTTLE_SLUG":      slug,
	} {
		p.AgentEnv[k] = v
	}

	// Mounts: directories only (a rename on the host is invisible through
	// a file mount).
	st := hoststate.Bottle(p.StateDir)
	p.Mounts = []Mount{
		{Container: "sidecar", Source: st.Sidecar(), Target: SidecarConfigDir, ReadOnly: true},
		{Container: "sidecar", Source: st.Egress(), Target: SidecarEgressDir, ReadOnly: true},
		{Container: "sidecar", Source: st.CA(), Target: SidecarCADir, ReadOnly: true},
		{Container: "sidecar", Source: st.SSH(), Target: SidecarSSHDir, ReadOnly: true},
		{Container: "sidecar", Source: st.Queue(), Target: SidecarQueueDir},
		{Container: "sidecar", Source: st.Logs(), Target: SidecarLogsDir},
		{Container: "agent", Source: st.CurrentConfig(), Target: AgentConfigDir, ReadOnly: true},
		{Container: "agent", Source: st.AgentCA(), Target: AgentCADir, ReadOnly: true},
	}
	return p, nil
}

// NoProxy is the agent's NO_PROXY: the sidecar services it reaches
// directly.
const NoProxy = "localhost,127.0.0.1,supervise,git-gate"

// randomSuffix draws five characters from slugAlphabet without modulo
// bias.
func randomSuffix(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no random source")
	}
	const n = 5
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

func sortedSet(m map[string]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
