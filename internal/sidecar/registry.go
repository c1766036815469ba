package sidecar

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bot-bottle/bot-bottle/internal/dnsguard"
	"github.com/bot-bottle/bot-bottle/internal/plan"
)

// Config is everything a daemon is built from.
type Config struct {
	// Settings come from the environment.
	Settings Settings
	// File is sidecar.json, the sidecar's part of the plan.
	File plan.SidecarConfig
	// Root is the sidecar's state root, /run/bot-bottle in a bottle: it
	// holds config/, egress/, ca/, ssh/, queue/ and logs/.
	Root string
	// Listen overrides a daemon's listen address (host:port) by name; by
	// default each listens on all addresses at its port in sidecar.json.
	Listen map[string]string
	// Getenv reads the sidecar's environment: secret values by token_ref.
	Getenv func(string) string
	// EgressExtraPorts are ports every egress route allows besides 443 and
	// 80: for tests whose upstream listens on a random loopback port.
	EgressExtraPorts []int
	// Environ lists the environment (without proxy variables), for the
	// git and ssh children of git-gate.
	Environ func() []string
	// DataDir is the sidecar's own writable storage (git-gate mirrors),
	// inside the container, never the host's state.
	DataDir string
	// Executable is the bot-bottle binary (git-gate's pre-receive hook).
	Executable string
	// Logger is the bundle's logger; daemons add their name.
	Logger *slog.Logger
}

// logger is the bundle's logger, or one that discards.
func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Dir is a sub-directory of the state root: "logs", "egress", "ca", ...
func (c Config) Dir(sub string) string { return filepath.Join(c.Root, sub) }

// ListenAddr is where daemon name listens: the override, else all
// addresses at port, else all addresses at the default port.
func (c Config) ListenAddr(name string, port, def int) string {
	if a := c.Listen[name]; a != "" {
		return a
	}
	if port <= 0 {
		port = def
	}
	return net.JoinHostPort("", strconv.Itoa(port))
}

// Constructor builds one daemon from the configuration. It validates what
// it can, so a bad configuration fails before anything starts.
type Constructor func(Config) (Daemon, error)

// Registry maps daemon names to constructors.
type Registry map[string]Constructor

// Builtin is the registry of the bot-bottle binary: every daemon of the
// sidecar contract.
func Builtin() Registry {
	return Registry{
		DaemonEgress:    NewEgress,
		DaemonSupervise: NewSupervise,
		DaemonDNS:       NewDNS,
		DaemonGitGate:   NewGitGate,
	}
}

// Build constructs the daemons cfg.Settings names, in order. Every
// constructor runs before anything starts, so every configuration error is
// reported at once.
func (r Registry) Build(cfg Config) ([]Daemon, error) {
	var out []Daemon
	var errs []error
	for _, name := range cfg.Settings.Daemons {
		c, ok := r[name]
		if !ok {
			errs = append(errs, fmt.Errorf("daemon %s: unknown", name))
			continue
		}
		d, err := c(cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d.Name() != name {
			errs = append(errs, fmt.Errorf("daemon %s: constructor built %q", name, d.Name()))
			continue
		}
		out = append(out, d)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuring sidecar: %w", err)
	}
	return out, nil
}

var _ Daemon = (*dnsguard.Server)(nil)

// NewDNS builds the resolver: it answers the aliases in sidecar.json (and
// the built-in ones) and logs refusals to logs/dns.jsonl.
func NewDNS(cfg Config) (Daemon, error) {
	s, err := dnsguard.New(dnsguard.Config{
		Listen:  cfg.ListenAddr(DaemonDNS, cfg.File.Ports.DNS, plan.DNSPort),
		Names:   cfg.File.Aliases,
		LogPath: filepath.Join(cfg.Dir("logs"), "dns.jsonl"),
		Logger:  cfg.logger().With("daemon", DaemonDNS),
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ReadConfigFile reads sidecar.json strictly: an unknown field is an error.
func ReadConfigFile(path string) (plan.SidecarConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return plan.SidecarConfig{}, fmt.Errorf("reading sidecar config: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, 16<<20))
	dec.DisallowUnknownFields()
	var c plan.SidecarConfig
	if err := dec.Decode(&c); err != nil {
		return plan.SidecarConfig{}, fmt.Errorf("reading sidecar config %s: %w", path, err)
	}
	return c, nil
}

// ProxyEnvVars are the variables the sidecar must not inherit: its own
// traffic goes direct (DESIGN.md, the sidecar contract).
func ProxyEnvVars() []string {
	return []string{
		"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
		"http_proxy", "https_proxy", "all_proxy", "no_proxy",
	}
}
