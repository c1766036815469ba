package sidecar

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// Environment variables the sidecar reads (DESIGN.md, the sidecar contract).
const (
	EnvDaemons                 = "BOT_BOTTLE_SIDECAR_DAEMONS"
	EnvSuperviseSlug           = "SUPERVISE_BOTTLE_SLUG"
	EnvSuperviseQueueDir       = "SUPERVISE_QUEUE_DIR"
	EnvSupervisePort           = "SUPERVISE_PORT"
	EnvGitleaksAllowTimeout    = "SUPERVISE_GITLEAKS_ALLOW_TIMEOUT_SECONDS"
	EnvEgressTokenAllowTimeout = "EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS"
)

// Daemon names, in the order the bundle starts them (the plan's names).
const (
	DaemonEgress    = plan.DaemonEgress
	DaemonSupervise = plan.DaemonSupervise
	DaemonDNS       = plan.DaemonDNS
	DaemonGitGate   = plan.DaemonGitGate
)

// Order is the start order of every known daemon.
func Order() []string {
	return []string{DaemonEgress, DaemonSupervise, DaemonDNS, DaemonGitGate}
}

// Defaults.
const (
	DefaultSupervisePort = plan.SupervisePort
	DefaultHoldTimeout   = plan.DefaultHoldTimeoutSeconds * time.Second
	// maxHoldSeconds bounds a hold at one day: a longer one is a typo.
	maxHoldSeconds = 24 * 60 * 60
)

var slugRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// Settings is what the sidecar takes from its environment, validated.
type Settings struct {
	// Daemons to run, in start order.
	Daemons []string
	// Slug is the bottle's slug (SUPERVISE_BOTTLE_SLUG).
	Slug string
	// QueueDir is the supervise queue (SUPERVISE_QUEUE_DIR); when unset,
	// queue/ under the state root (/run/bot-bottle/queue in a bottle).
	QueueDir string
	// SupervisePort is the supervise MCP port (SUPERVISE_PORT).
	SupervisePort int
	// GitleaksAllowTimeout bounds a push held for a human.
	GitleaksAllowTimeout time.Duration
	// EgressTokenAllowTimeout bounds a request held by DLP.
	EgressTokenAllowTimeout time.Duration
}

// Has reports whether the daemon is to run.
func (s Settings) Has(name string) bool { return slices.Contains(s.Daemons, name) }

// ParseSettings reads and validates the sidecar's environment. Every
// invalid value is an error, never a silent default: a typo in a timeout
// must not turn a hold into something else. Daemons and Slug stay empty when
// unset; Complete fills them from sidecar.json. QueueDir stays empty when
// unset: it is queue/ under the state root.
func ParseSettings(getenv func(string) string) (Settings, error) {
	s := Settings{SupervisePort: DefaultSupervisePort}
	var err error
	if raw := getenv(EnvDaemons); raw != "" {
		if s.Daemons, err = parseDaemons(EnvDaemons, raw); err != nil {
			return Settings{}, err
		}
	}
	s.Slug = getenv(EnvSuperviseSlug)
	if s.Slug != "" && !slugRE.MatchString(s.Slug) {
		return Settings{}, fmt.Errorf("reading %s: %q is not a bottle slug", EnvSuperviseSlug, s.Slug)
	}
	if v := getenv(EnvSuperviseQueueDir); v != "" {
		if !strings.HasPrefix(v, "/") {
			return Settings{}, fmt.Errorf("reading %s: %q is not an absolute path", EnvSuperviseQueueDir, v)
		}
		s.QueueDir = v
	}
	if v := getenv(EnvSupervisePort); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return Settings{}, fmt.Errorf("reading %s: %q is not a port", EnvSupervisePort, v)
		}
		s.SupervisePort = p
	}
	if s.GitleaksAllowTimeout, err = holdTimeout(getenv, EnvGitleaksAllowTimeout); err != nil {
		return Settings{}, err
	}
	if s.EgressTokenAllowTimeout, err = holdTimeout(getenv, EnvEgressTokenAllowTimeout); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Complete fills what the environment left unset from sidecar.json (its
// daemons and slug) and checks the result: at least one daemon, and a slug
// whenever a daemon raises proposals.
func (s Settings) Complete(daemons []string, slug string) (Settings, error) {
	if len(s.Daemons) == 0 {
		if len(daemons) == 0 {
			return Settings{}, fmt.Errorf("no daemons to run: set %s or daemons in sidecar.json", EnvDaemons)
		}
		d, err := parseDaemons("sidecar.json daemons", strings.Join(daemons, ","))
		if err != nil {
			return Settings{}, err
		}
		s.Daemons = d
	}
	if s.Slug != "" && slug != "" && s.Slug != slug {
		return Settings{}, fmt.Errorf("%s is %q but sidecar.json says %q", EnvSuperviseSlug, s.Slug, slug)
	}
	if s.Slug == "" {
		if slug != "" && !slugRE.MatchString(slug) {
			return Settings{}, fmt.Errorf("reading sidecar.json: %q is not a bottle slug", slug)
		}
		s.Slug = slug
	}
	if s.Slug == "" && (s.Has(DaemonEgress) || s.Has(DaemonSupervise) || s.Has(DaemonGitGate)) {
		return Settings{}, fmt.Errorf("no bottle slug: set %s (needed by egress, supervise and git-gate)", EnvSuperviseSlug)
	}
	return s, nil
}

// parseDaemons checks a comma-separated daemon list: known names, no
// repeats, in the contract's order.
func parseDaemons(src, raw string) ([]string, error) {
	order := Order()
	var out []string
	last := -1
	for _, n := range strings.Split(raw, ",") {
		n = strings.TrimSpace(n)
		i := slices.Index(order, n)
		switch {
		case n == "":
			return nil, fmt.Errorf("reading %s: empty daemon name in %q", src, raw)
		case i < 0:
			return nil, fmt.Errorf("reading %s: unknown daemon %q (known: %s)", src, n, strings.Join(order, ", "))
		case slices.Contains(out, n):
			return nil, fmt.Errorf("reading %s: daemon %q listed twice", src, n)
		case i < last:
			return nil, fmt.Errorf("reading %s: daemon %q out of order (order: %s)", src, n, strings.Join(order, ","))
		}
		last = i
		out = append(out, n)
	}
	return out, nil
}

// holdTimeout reads a whole number of seconds, 1 to one day; unset is the
// default.
func holdTimeout(getenv func(string) string, name string) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return DefaultHoldTimeout, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxHoldSeconds {
		return 0, fmt.Errorf("reading %s: %q is not a whole number of seconds from 1 to %d", name, v, maxHoldSeconds)
	}
	return time.Duration(n) * time.Second, nil
}
