package plan

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// WriteText prints the plan for a person. short shortens host paths (such
// as home to ~). Token values are never in a plan; routes show $NAME.
func WriteText(w io.Writer, p *Bottle, short func(string) string) error {
	if short == nil {
		short = func(s string) string { return s }
	}
	bw := bufio.NewWriter(w)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(bw, "  %-11s %s\n", label, fmt.Sprintf(format, args...))
	}
	more := func(format string, args ...any) {
		fmt.Fprintf(bw, "  %-11s %s\n", "", fmt.Sprintf(format, args...))
	}

	fmt.Fprintf(bw, "bottle %s: %s (dry run: nothing launched)\n", p.Slug, p.Label)
	agent := p.Agent.Name
	if p.Agent.File == "" {
		agent += " (built-in)"
	}
	row("agent", "%s", agent)
	row("bottles", "%s", strings.Join(p.Bottles, ", "))
	for i, f := range p.Files {
		if i == 0 {
			row("files", "%s", short(f))
		} else {
			more("%s", short(f))
		}
	}
	prov := p.Provider.Template
	if p.Provider.Dockerfile != "" {
		prov += ", Dockerfile " + short(p.Provider.Dockerfile)
	}
	if p.Provider.AuthTokenEnv != "" {
		prov += ", token $" + p.Provider.AuthTokenEnv
		if p.Provider.AuthKind != "" {
			prov += " (auth_kind " + p.Provider.AuthKind + ")"
		}
	}
	if p.Provider.ForwardHostCredentials {
		prov += ", forwards host credentials"
	}
	row("provider", "%s", prov)
	row("images", "agent %s, sidecar %s", p.Images.Agent, p.Images.Sidecar)
	cpus := "no cpu limit"
	if p.Resources.CPUs != 0 {
		cpus = fmt.Sprintf("%g cpus", p.Resources.CPUs)
	}
	row("resources", "memory %s, %d pids, %s", humanBytes(p.Resources.MemoryBytes), p.Resources.Pids, cpus)

	if len(p.Egress.Routes) == 0 {
		row("egress", "no routes: every request is refused; the agent may ask through supervise (log level %d)", p.Egress.Log)
	} else {
		row("egress", "%d %s, everything else refused (log level %d)", len(p.Egress.Routes), pluralize(len(p.Egress.Routes), "route", "routes"), p.Egress.Log)
		for i, r := range p.Egress.Routes {
			more("%d. %s", i+1, describeRoute(r))
		}
	}

	if len(p.Capabilities.Routes) == 0 {
		row("capability", "builds of approved lines may reach the egress routes only")
	} else {
		hosts := make([]string, len(p.Capabilities.Routes))
		for i, r := range p.Capabilities.Routes {
			hosts[i] = r.Host
		}
		row("capability", "builds of approved lines may reach the egress routes and %s", strings.Join(hosts, ", "))
	}

	if len(p.GitGate.Repos) == 0 {
		row("git-gate", "no repos")
	} else {
		for i, r := range p.GitGate.Repos {
			force := "force push refused"
			if r.AllowForcePush {
				force = "force push allowed"
			}
			line := fmt.Sprintf("%s: %s via %s/%s.git, key %s, %s", r.Name, r.URL, DefaultGitGateURL, r.Name, short(r.KeyFile), force)
			if i == 0 {
				row("git-gate", "%s", line)
			} else {
				more("%s", line)
			}
		}
	}
	if u := p.GitGate.User; u.Name != "" || u.Email != "" {
		row("git user", "%s <%s>", u.Name, u.Email)
	}
	row("supervise", "queue %s; held pushes and requests time out after %ds", short(p.Supervise.QueueDir), p.Supervise.GitleaksAllowTimeoutSeconds)
	row("sidecar", "daemons %s", strings.Join(p.Sidecar.Daemons, ","))
	if len(p.SidecarSecretEnv) > 0 {
		names := make([]string, len(p.SidecarSecretEnv))
		for i, n := range p.SidecarSecretEnv {
			names[i] = "$" + n
		}
		more("secrets %s (copied from your environment at launch, into the sidecar only)", strings.Join(names, ", "))
	}
	for _, n := range p.MissingSecretEnv {
		more("missing $%s (not set: start refuses until you export it)", n)
	}
	keys := make([]string, 0, len(p.AgentEnv))
	for k := range p.AgentEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			row("agent env", "%s=%s", k, p.AgentEnv[k])
		} else {
			more("%s=%s", k, p.AgentEnv[k])
		}
	}
	for i, m := range p.Mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		line := fmt.Sprintf("%s: %s -> %s (%s)", m.Container, short(m.Source), m.Target, mode)
		if i == 0 {
			row("mounts", "%s", line)
		} else {
			more("%s", line)
		}
	}
	return bw.Flush()
}

// describeAuth says where the route's value goes, by name only.
func describeAuth(a manifest.Auth) string {
	v := "$" + a.TokenRef
	var out string
	switch a.Placement() {
	case manifest.PlaceHeader:
		out = fmt.Sprintf("auth %s: %s", a.Header, v)
	case manifest.PlaceBasic:
		out = fmt.Sprintf("auth Authorization: Basic base64(%s:%s)", a.BasicUser, v)
	case manifest.PlaceQuery:
		out = fmt.Sprintf("auth ?%s=%s", a.Query, v)
	case manifest.PlacePlaceholder:
		out = "auth " + v
	default:
		out = fmt.Sprintf("auth Authorization: %s %s", a.EffectiveScheme(), v)
	}
	if a.Placeholder != "" {
		out += fmt.Sprintf(" in place of the sentinel in $%s", a.Placeholder)
		if a.PlaceholderInBody {
			out += " (body too)"
		}
	}
	return out
}

// describeRoute is one route on one line.
func describeRoute(r manifest.Route) string {
	parts := []string{r.Host}
	if len(r.Ports) > 0 {
		ps := make([]string, len(r.Ports))
		for i, n := range r.Ports {
			ps[i] = strconv.Itoa(n)
		}
		parts = append(parts, "ports "+strings.Join(ps, ","))
	}
	if r.Auth != nil {
		parts = append(parts, describeAuth(*r.Auth))
	}
	for _, m := range r.Matches {
		var ms []string
		if len(m.Methods) > 0 {
			ms = append(ms, strings.Join(m.Methods, "|"))
		}
		for _, p := range m.Paths {
			typ := p.Type
			if typ == "" {
				typ = "prefix"
			}
			ms = append(ms, typ+" "+p.Value)
		}
		for _, h := range m.Headers {
			ms = append(ms, "header "+h.Name)
		}
		parts = append(parts, "match "+strings.Join(ms, " "))
	}
	if r.DLP != nil {
		if d := r.DLP.OutboundDetectors; d != nil && d.Off {
			parts = append(parts, "outbound scanning off")
		}
		if d := r.DLP.InboundDetectors; d != nil && d.Off {
			parts = append(parts, "inbound scanning off")
		}
		if r.DLP.OutboundOnMatch != "" {
			parts = append(parts, "on match "+r.DLP.OutboundOnMatch)
		}
	}
	if r.Git != nil && r.Git.Fetch {
		parts = append(parts, "git fetch")
	}
	if r.UnsafeAllowPrivate {
		parts = append(parts, "UNSAFE: private addresses allowed")
	}
	return strings.Join(parts, ", ")
}

func pluralize(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// humanBytes writes n in the largest binary unit that divides it.
func humanBytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
