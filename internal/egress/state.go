package egress

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/policy"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// state is one loaded policy with everything derived from it. A reload
// builds a new state completely, then swaps the pointer: a request sees
// one state from start to end.
type state struct {
	pol *policy.Policy
	// tokens maps token_ref to the value injected.
	tokens map[string]string
	// sentinels maps a placeholder env name to the sentinel the agent
	// holds in its place.
	sentinels map[string]string
	// secrets are every value the sidecar holds, sentinels included.
	secrets []dlp.Secret
	// hosts searches requested host names for tokens and held secrets.
	hosts *dlp.HostCheck
	// scanners by route; nil when the route scans nothing.
	scanners map[*policy.Route]*dlp.Outbound
	// hash is the policy file's SHA-256, for proposals.
	hash string
	fid  fileID
}

type fileID struct {
	mtime time.Time
	size  int64
	ino   uint64
}

func statID(path string) (fileID, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{mtime: st.ModTime(), size: st.Size()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id.ino = sys.Ino
	}
	return id, nil
}

func (s *Server) loadState() (*state, error) {
	fid, err := statID(s.cfg.PolicyPath)
	if err != nil {
		return nil, fmt.Errorf("loading policy: %w", err)
	}
	raw, err := os.ReadFile(s.cfg.PolicyPath)
	if err != nil {
		return nil, fmt.Errorf("loading policy: %w", err)
	}
	pol, err := policy.LoadFile(s.cfg.PolicyPath)
	if err != nil {
		return nil, fmt.Errorf("loading policy: %w", err)
	}
	pol.ExtraPorts = s.cfg.ExtraPorts
	st, err := buildState(pol, s.cfg.Getenv, s.cfg.SecretEnv, true)
	if err != nil {
		return nil, err
	}
	st.hash, st.fid = queue.HashFile(raw), fid
	return st, nil
}

// buildState reads the tokens a policy names and builds its scanners. With
// needTokens, a token_ref that is not set is an error.
func buildState(pol *policy.Policy, getenv func(string) string, secretEnv []string, needTokens bool) (*state, error) {
	st := &state{pol: pol, tokens: map[string]string{}, sentinels: map[string]string{}, scanners: map[*policy.Route]*dlp.Outbound{}}
	seen := map[string]bool{}
	hold := func(name string) (string, error) {
		v := getenv(name)
		if v == "" {
			return "", fmt.Errorf("token_ref %s is not set in the environment", name)
		}
		if !seen[name] {
			seen[name] = true
			st.secrets = append(st.secrets, dlp.Secret{Name: name, Value: v})
		}
		return v, nil
	}
	for _, r := range pol.Routes {
		if r.Auth == nil {
			continue
		}
		v, err := hold(r.Auth.TokenRef)
		if err != nil && needTokens {
			return nil, fmt.Errorf("loading policy: route %s: %w", r.Name(), err)
		}
		st.tokens[r.Auth.TokenRef] = v
		if err := st.holdSentinel(r, getenv); err != nil && needTokens {
			return nil, err
		}
	}
	for _, name := range secretEnv {
		if getenv(name) != "" {
			hold(name)
		}
	}
	var err error
	if st.hosts, err = dlp.NewHostCheck(st.secrets); err != nil {
		return nil, fmt.Errorf("loading policy: %w", err)
	}
	byKey := map[string]*dlp.Outbound{}
	for _, r := range pol.Routes {
		secrets, key := st.secretsFor(r)
		dets := slices.Clone(r.Outbound)
		// Every value the sidecar holds is a match on every route: a token
		// must never leave except where the proxy injects it.
		if len(secrets) > 0 && !slices.Contains(dets, dlp.DetectorKnownSecrets) {
			dets = append(dets, dlp.DetectorKnownSecrets)
		}
		if len(dets) == 0 {
			continue
		}
		slices.Sort(dets)
		key = strings.Join(dets, ",") + key
		o, ok := byKey[key]
		if !ok {
			var err error
			o, err = dlp.NewOutbound(dlp.OutboundConfig{Detectors: dets, Secrets: secrets, MaxBody: dlp.DefaultMaxBody})
			if err != nil {
				return nil, fmt.Errorf("loading policy: %w", err)
			}
			byKey[key] = o
		}
		st.scanners[r] = o
	}
	return st, nil
}

// SentinelEnvPrefix + a placeholder name is the sidecar env var holding
// the sentinel the agent was given for it (the plan sets both).
const SentinelEnvPrefix = manifest.SentinelEnvPrefix

// minSentinel is the shortest sentinel the proxy swaps: a short one could
// turn up in a request by chance.
const minSentinel = 24

// holdSentinel reads the sentinel of a placeholder route. A placeholder
// without one fails the load: the agent would hold a value that is never
// swapped, or worse, one the proxy cannot tell from any other text.
func (st *state) holdSentinel(r *policy.Route, getenv func(string) string) error {
	name := r.Auth.Placeholder
	if name == "" {
		return nil
	}
	v := getenv(SentinelEnvPrefix + name)
	if len(v) < minSentinel {
		return fmt.Errorf("loading policy: route %s: placeholder %s has no sentinel (%s%s is unset or shorter than %d characters); the plan sets it, so run the bottle through bot-bottle start", r.Name(), name, SentinelEnvPrefix, name, minSentinel)
	}
	if _, ok := st.sentinels[name]; !ok {
		st.sentinels[name] = v
		st.secrets = append(st.secrets, dlp.Secret{Name: "sentinel " + name, Value: v})
	}
	return nil
}

// secretsFor is what route r's scanner matches: every held value except
// the sentinel r swaps (it is allowed out there, and only there), and a
// key that tells scanners with different sets apart.
func (st *state) secretsFor(r *policy.Route) ([]dlp.Secret, string) {
	if r.Auth == nil || r.Auth.Placeholder == "" {
		return st.secrets, ""
	}
	own := "sentinel " + r.Auth.Placeholder
	return slices.DeleteFunc(slices.Clone(st.secrets), func(s dlp.Secret) bool { return s.Name == own }), ";-" + own
}

// watch reloads the policy when the file changes (mtime, size or inode:
// the host replaces it by rename). An invalid new policy keeps the last
// good one and says why.
func (s *Server) watch(ctx context.Context) {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.reloadIfChanged()
	}
}

func (s *Server) reloadIfChanged() {
	cur := s.state.Load()
	fid, err := statID(s.cfg.PolicyPath)
	if err != nil || fid == cur.fid {
		return
	}
	st, err := s.loadState()
	if err != nil {
		// Remember the broken file so it is reported once, not every poll.
		bad := *cur
		bad.fid = fid
		s.state.CompareAndSwap(cur, &bad)
		s.log.Error("egress policy reload failed; keeping the last good policy", "path", s.cfg.PolicyPath, "error", err.Error())
		return
	}
	if s.state.CompareAndSwap(cur, st) {
		// Pooled upstream connections were checked against the old policy
		// (a private address it allowed): new requests dial afresh.
		s.transport.CloseIdleConnections()
		debug.FreeOSMemory()
		s.log.Info("egress policy reloaded", "path", s.cfg.PolicyPath, "routes", len(st.pol.Routes), "sha256", st.hash)
	}
}
