// Package gitgate is the agent's git remote: a smart-HTTP server (the real
// `git http-backend`) with one bare mirror per declared upstream. Fetches
// are served from the mirror after it is refreshed from the upstream;
// pushes run a pre-receive hook (the bot-bottle binary itself) that scans
// the new objects for secrets and forwards clean refs upstream over SSH.
package gitgate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/atomicfile"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// Env names the hook reads. The server passes them through the CGI
// environment: net/http/cgi starts git http-backend with a fresh one.
const (
	EnvRepo         = "BOT_BOTTLE_GATE_REPO"
	EnvUpstream     = "BOT_BOTTLE_GATE_UPSTREAM"
	EnvAllowForce   = "BOT_BOTTLE_GATE_ALLOW_FORCE_PUSH"
	EnvQueueDir     = "SUPERVISE_QUEUE_DIR"
	EnvSlug         = "SUPERVISE_BOTTLE_SLUG"
	EnvAllowTimeout = "SUPERVISE_GITLEAKS_ALLOW_TIMEOUT_SECONDS"
	// EnvHookLog is the file the hook appends its decisions to.
	EnvHookLog = "BOT_BOTTLE_GATE_HOOK_LOG"
)

// keptEnv are the process variables git and ssh children keep. Nothing
// else is inherited: not HTTP(S)_PROXY, not the user's git or ssh setup.
var keptEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "LANG", "LC_ALL", "TZ"}

// Config is what the git-gate serves.
type Config struct {
	// Listen is the address to listen on, e.g. ":9420".
	Listen string
	// StateDir holds the mirrors and the generated known_hosts files.
	StateDir string
	// Repos are the declared upstreams by name.
	Repos map[string]manifest.Repo
	// User is the commit identity the agent is configured with (informational
	// here; the plan writes it into the agent's git config).
	User *manifest.GitUser
	// QueueDir is the supervise queue for gitleaks-allow proposals; empty
	// refuses every push that needs one.
	QueueDir string
	// Slug names the bottle in proposals.
	Slug string
	// AllowTimeout is SUPERVISE_GITLEAKS_ALLOW_TIMEOUT_SECONDS as given:
	// empty means 300; an invalid value refuses every push.
	AllowTimeout string
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// BinaryPath is the bot-bottle binary the pre-receive hook runs.
	BinaryPath string
	// Environ is the process environment; only PATH, HOME and a few locale
	// variables are passed on. Nil reads os.Environ.
	Environ []string
	// HookLog is a file the pre-receive hook appends one JSON line to per
	// push decision (repo, refs, outcome, reason; never a secret). Empty
	// keeps no such log.
	HookLog string
}

// Server serves the mirrors.
type Server struct {
	cfg    Config
	log    *slog.Logger
	ln     net.Listener
	repos  map[string]*mirror
	names  []string
	base   []string // environment for every git child
	gitBin string
	// controlDir holds the ssh control sockets (a short path: a socket
	// path is limited to about 100 bytes); empty when none could be made.
	controlDir string
}

// mirror is one repo's bare mirror and its lock. Refreshes and pushes take
// it exclusively; fetches share it.
type mirror struct {
	up         *upstream
	dir        string
	knownHosts string
	control    string // ssh control socket; empty: a connection per command
	mu         sync.RWMutex
}

func (m *mirror) sshCommand() string { return m.up.sshCommand(m.knownHosts, m.control) }

// New validates cfg, prepares one bare mirror per repo (without contacting
// the upstreams) and listens on cfg.Listen.
func New(cfg Config) (*Server, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("git-gate: no state directory")
	}
	if cfg.BinaryPath == "" {
		return nil, errors.New("git-gate: no bot-bottle binary path for the pre-receive hook")
	}
	if len(cfg.Repos) == 0 {
		return nil, errors.New("git-gate: no repos declared")
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("git-gate: finding git: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, repos: map[string]*mirror{}, gitBin: gitBin}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	environ := cfg.Environ
	if environ == nil {
		environ = os.Environ()
	}
	s.base = baseEnv(environ)
	if dir, err := os.MkdirTemp("", "bbgate-"); err == nil {
		s.controlDir = dir
	} else {
		s.log.Warn("no directory for ssh control sockets: one ssh connection per git command", "err", err)
	}
	if err := s.addRepos(); err != nil {
		s.Close()
		return nil, err
	}
	sort.Strings(s.names)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("git-gate: listening: %w", err)
	}
	s.ln = ln
	return s, nil
}

func (s *Server) addRepos() error {
	for name, r := range s.cfg.Repos {
		up, err := parseUpstream(name, r)
		if err != nil {
			return fmt.Errorf("git-gate: %w", err)
		}
		m := &mirror{
			up:         up,
			dir:        filepath.Join(s.cfg.StateDir, "mirrors", name+".git"),
			knownHosts: filepath.Join(s.cfg.StateDir, "ssh", name+".known_hosts"),
		}
		if s.controlDir != "" {
			m.control = filepath.Join(s.controlDir, fmt.Sprintf("%d", len(s.names)))
		}
		if err := s.prepare(m); err != nil {
			return fmt.Errorf("git-gate: preparing mirror %s: %w", name, err)
		}
		s.repos[name] = m
		s.names = append(s.names, name)
	}
	return nil
}

// Close ends the shared ssh connections and removes their sockets. Run
// calls it on the way out.
func (s *Server) Close() {
	if s.controlDir == "" {
		return
	}
	for _, m := range s.repos {
		if m.control == "" {
			continue
		}
		if _, err := os.Stat(m.control); err != nil {
			continue // no connection was made
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cmd := exec.CommandContext(ctx, "ssh", "-F", "/dev/null", "-o", "ControlPath="+m.control, "-O", "exit", "upstream")
		cmd.Env = s.base
		_ = cmd.Run()
		cancel()
	}
	os.RemoveAll(s.controlDir)
}

func baseEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		for _, keep := range keptEnv {
			if k == keep {
				out = append(out, kv)
			}
		}
	}
	// Keep the user's and the system's git config out of every git child.
	return append(out, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0")
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, then shuts down, letting requests in flight
// finish for a few seconds.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.ln) }()
	s.log.Info("git-gate listening", "addr", s.ln.Addr().String(), "repos", s.names)
	select {
	case err := <-errc:
		return fmt.Errorf("git-gate: serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return nil
}

// prepare creates the bare mirror if missing and (re)writes its config,
// hook and known_hosts: they follow the current config on every start.
func (s *Server) prepare(m *mirror) error {
	if err := atomicfile.Write(m.knownHosts, []byte(m.up.knownHostsLine()), 0o600); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(m.dir, "HEAD")); err != nil {
		if err := os.MkdirAll(filepath.Dir(m.dir), 0o700); err != nil {
			return err
		}
		if _, err := s.git(context.Background(), "", "init", "--bare", "-q", m.dir); err != nil {
			return err
		}
	}
	sets := [][]string{
		{"remote.origin.url", m.up.url},
		{"http.receivepack", "true"},
		{"http.uploadpack", "true"},
		{"receive.fsckObjects", "true"},
		// Keep every pushed pack as it came (index-pack checks it): a
		// push under 100 objects would otherwise be unpacked into loose
		// objects, each deflated again, and the forwarding push would
		// inflate and deflate them once more instead of copying the
		// compressed data (a 50 MB blob: seconds of CPU twice).
		{"receive.unpackLimit", "1"},
		{"receive.advertisePushOptions", "true"},
		{"receive.denyDeleteCurrent", "false"},
		{"uploadpack.allowFilter", "true"},
		{"gc.auto", "0"},
		{"core.hooksPath", filepath.Join(m.dir, "hooks")},
	}
	for _, kv := range sets {
		if _, err := s.git(context.Background(), m.dir, "config", kv[0], kv[1]); err != nil {
			return err
		}
	}
	// Heads and tags mirror the upstream exactly; nothing else is fetched.
	if _, err := s.git(context.Background(), m.dir, "config", "--replace-all", "remote.origin.fetch", "+refs/heads/*:refs/heads/*"); err != nil {
		return err
	}
	if _, err := s.git(context.Background(), m.dir, "config", "--add", "remote.origin.fetch", "+refs/tags/*:refs/tags/*"); err != nil {
		return err
	}
	hooks := filepath.Join(m.dir, "hooks")
	if err := os.RemoveAll(hooks); err != nil {
		return err
	}
	if err := os.MkdirAll(hooks, 0o700); err != nil {
		return err
	}
	script := "#!/bin/sh\nexec " + shellQuote(s.cfg.BinaryPath) + " gate hook pre-receive\n"
	return atomicfile.Write(filepath.Join(hooks, "pre-receive"), []byte(script), 0o700)
}

// git runs git in dir (a git dir, or "" for none) with the base
// environment plus extra, and returns stdout.
func (s *Server) git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	return s.gitEnv(ctx, dir, nil, args...)
}

func (s *Server) gitEnv(ctx context.Context, dir string, extra []string, args ...string) ([]byte, error) {
	if dir != "" {
		args = append([]string{"--git-dir", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, s.gitBin, args...)
	cmd.Env = append(append([]string{}, s.base...), extra...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("git %s: %w: %s", args[len(args)-1], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// refreshTimeout bounds one fetch from the upstream.
const refreshTimeout = 10 * time.Minute

// refresh fetches the upstream into the mirror. The caller holds m.mu.
func (s *Server) refresh(ctx context.Context, m *mirror) error {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.gitBin, "--git-dir", m.dir, "fetch", "--prune", "--quiet", "--no-write-fetch-head", "origin")
	cmd.Env = append(append([]string{}, s.base...), "GIT_SSH_COMMAND="+m.sshCommand())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("fetching from upstream %s: %s", m.up.url, lastLines(string(out), 3))
	}
	return s.followHead(ctx, m)
}

// followHead points the mirror's HEAD at the upstream's default branch when
// it names a branch the mirror lacks (a fresh mirror says master), so a
// clone checks out what a clone of the upstream would.
func (s *Server) followHead(ctx context.Context, m *mirror) error {
	head, err := s.git(ctx, m.dir, "symbolic-ref", "-q", "HEAD")
	if err == nil {
		if _, err := s.git(ctx, m.dir, "rev-parse", "-q", "--verify", strings.TrimSpace(string(head))); err == nil {
			return nil
		}
	}
	// An empty upstream has no branch to point at (ls-remote shows no
	// HEAD for it): spare the round trip.
	if heads, err := s.git(ctx, m.dir, "for-each-ref", "--count=1", "--format=%(refname)", "refs/heads/"); err == nil && len(bytes.TrimSpace(heads)) == 0 {
		return nil
	}
	env := []string{"GIT_SSH_COMMAND=" + m.sshCommand()}
	out, err := s.gitEnv(ctx, m.dir, env, "ls-remote", "--symref", "origin", "HEAD")
	if err != nil {
		return fmt.Errorf("reading upstream HEAD: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if ref, ok := strings.CutPrefix(line, "ref: "); ok {
			ref, _, _ = strings.Cut(ref, "\t")
			if strings.HasPrefix(ref, "refs/heads/") {
				_, err := s.git(ctx, m.dir, "symbolic-ref", "HEAD", ref)
				return err
			}
		}
	}
	return nil // an empty upstream or one without a symbolic HEAD
}

// lastLines keeps the last n non-empty lines of git output, joined.
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return "git gave no reason"
	}
	return strings.Join(lines, "; ")
}

// hookEnv is the environment git http-backend passes on to the hook.
func (s *Server) hookEnv(m *mirror) []string {
	env := append([]string{}, s.base...)
	env = append(env,
		"GIT_PROJECT_ROOT="+filepath.Dir(m.dir),
		"GIT_HTTP_EXPORT_ALL=1",
		"GIT_SSH_COMMAND="+m.sshCommand(),
		EnvRepo+"="+m.up.name,
		EnvUpstream+"="+m.up.url,
		EnvAllowForce+"="+fmt.Sprint(m.up.allowForce),
		EnvQueueDir+"="+s.cfg.QueueDir,
		EnvSlug+"="+s.cfg.Slug,
		EnvAllowTimeout+"="+s.cfg.AllowTimeout,
		EnvHookLog+"="+s.cfg.HookLog,
	)
	return env
}

// route splits /NAME.git/REST.
func (s *Server) route(path string) (*mirror, string, string) {
	rest := strings.TrimPrefix(path, "/")
	i := strings.Index(rest, ".git/")
	if i < 0 {
		return nil, "", ""
	}
	name, op := rest[:i], rest[i+len(".git/"):]
	return s.repos[name], name, op
}

// ServeHTTP serves the smart-HTTP protocol only: info/refs with a service,
// git-upload-pack and git-receive-pack.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m, name, op := s.route(r.URL.Path)
	logger := s.log.With("method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	if m == nil {
		msg := fmt.Sprintf("git-gate: no repository %q here; declared repos: %s\n", name, strings.Join(s.names, ", "))
		if name == "" {
			msg = "git-gate: use http://git-gate:9420/NAME.git for a declared repo: " + strings.Join(s.names, ", ") + "\n"
		}
		logger.Warn("unknown repo", "repo", name)
		http.Error(w, msg, http.StatusNotFound)
		return
	}
	logger = logger.With("repo", name)
	switch {
	case op == "info/refs" && r.Method == http.MethodGet:
		service := r.URL.Query().Get("service")
		if service != "git-upload-pack" && service != "git-receive-pack" {
			http.Error(w, "git-gate: only the smart HTTP protocol is served\n", http.StatusForbidden)
			return
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if err := s.refresh(r.Context(), m); err != nil {
			logger.Error("upstream unreachable", "err", err)
			writeAdvertisementError(w, service, "git-gate: upstream unreachable, refusing to serve stale refs: "+err.Error())
			return
		}
		s.cgi(w, r, m, logger)
	case op == "git-upload-pack" && r.Method == http.MethodPost:
		m.mu.RLock()
		defer m.mu.RUnlock()
		s.cgi(w, r, m, logger)
	case op == "git-receive-pack" && r.Method == http.MethodPost:
		m.mu.Lock()
		defer m.mu.Unlock()
		s.cgi(w, r, m, logger)
	default:
		http.Error(w, "git-gate: only the smart HTTP protocol is served\n", http.StatusNotFound)
	}
}

func (s *Server) cgi(w http.ResponseWriter, r *http.Request, m *mirror, logger *slog.Logger) {
	if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
		// net/http/cgi refuses chunked bodies, and git sends every pack
		// over http.postBuffer (1 MiB) chunked: spool it to learn its length.
		f, n, err := s.spool(r.Body)
		if err != nil {
			logger.Error("spooling request body", "err", err)
			http.Error(w, "git-gate: reading the request failed\n", http.StatusBadRequest)
			return
		}
		defer os.Remove(f.Name())
		defer f.Close()
		r.Body, r.ContentLength, r.TransferEncoding = f, n, nil
	}
	h := &cgi.Handler{
		Path:   s.gitBin,
		Args:   []string{"http-backend"},
		Dir:    m.dir,
		Env:    s.hookEnv(m),
		Logger: log.New(io.Discard, "", 0),
		Stderr: &logWriter{log: logger},
	}
	h.ServeHTTP(w, r)
	logger.Info("served")
}

// maxRequest bounds one spooled request body.
const maxRequest = 4 << 30

// spool copies body into a temp file under the state dir and rewinds it.
func (s *Server) spool(body io.Reader) (*os.File, int64, error) {
	dir := filepath.Join(s.cfg.StateDir, "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, err
	}
	f, err := os.CreateTemp(dir, "request-*")
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(f, io.LimitReader(body, maxRequest+1))
	if err == nil && n > maxRequest {
		err = fmt.Errorf("request larger than %d bytes", int64(maxRequest))
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, err
	}
	return f, n, nil
}

// writeAdvertisementError answers info/refs with a protocol ERR packet, which
// git shows as "fatal: remote error: MSG" (an HTTP error status would show
// only the status).
func writeAdvertisementError(w http.ResponseWriter, service, msg string) {
	w.Header().Set("Content-Type", "application/x-"+service+"-advertisement")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, pktLine("# service="+service+"\n")+"0000"+pktLine("ERR "+strings.ReplaceAll(msg, "\n", " ")))
}

func pktLine(s string) string {
	if len(s) > 65516 {
		s = s[:65516]
	}
	return fmt.Sprintf("%04x%s", len(s)+4, s)
}

// logWriter logs what git http-backend writes on stderr (hook output goes
// to the client through the protocol, not here).
type logWriter struct{ log *slog.Logger }

func (l *logWriter) Write(p []byte) (int, error) {
	if msg := strings.TrimSpace(string(p)); msg != "" {
		l.log.Warn("git http-backend", "stderr", msg)
	}
	return len(p), nil
}
