// Package supervise is the MCP server the agent calls when it is blocked:
// each filing tool turns a call into a proposal in the bottle's queue, waits
// a bounded time for the operator's answer while keeping the stream alive,
// and otherwise hands back the proposal ID to check later (DESIGN.md,
// Supervision).
package supervise

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// Defaults, chosen against the clients' limits (docs/supervise.md).
const (
	// DefaultPort is the sidecar port of the supervise daemon.
	DefaultPort = 9100
	// DefaultWait bounds how long a filing tool waits for the operator
	// before it answers "pending". Codex gives an MCP call 60 s by default
	// (tool_timeout_sec) and Claude Code about 6 minutes: 50 s is under both
	// with a margin, and a human at the terminal often answers within it.
	DefaultWait = 50 * time.Second
	// DefaultKeepAlive is how often a waiting call writes to its stream
	// (an SSE comment, and a progress notification when the client asked
	// for progress): well under the 30-60 s idle limits of clients and
	// proxies.
	DefaultKeepAlive = 10 * time.Second
	// DefaultPoll is how often a waiting call looks for the answer file.
	DefaultPoll = 250 * time.Millisecond
	// MaxWait caps Config.Wait: Claude Code aborts a call near 6 minutes.
	MaxWait = 5 * time.Minute
)

// Config is everything the server needs; the sidecar and `supervise serve`
// fill it in.
type Config struct {
	// Listen is the TCP address to serve on, e.g. ":9100".
	Listen string
	// Slug names the bottle; it goes into every proposal.
	Slug string
	// QueueDir is the bottle's queue directory (rw).
	QueueDir string
	// PolicyPath is the live egress policy.yaml: its hash goes into egress
	// proposals and list-egress-routes reads it when ProxyURL is empty.
	// Empty means no policy file (hash of empty content).
	PolicyPath string
	// CapabilityPath is the bottle's current approved image additions: its
	// hash goes into capability-block proposals. Empty means none.
	CapabilityPath string
	// ProxyURL is the egress proxy ("http://127.0.0.1:9099" in the sidecar):
	// list-egress-routes asks it for the live table.
	ProxyURL string
	// EgressLog is the proxy's log (logs/egress.jsonl): egress-block looks
	// the agent's refusal ID up in it. Empty means no proxy log: every
	// cited refusal is shown as the agent's claim.
	EgressLog string
	// Wait bounds a filing tool's wait for the answer; 0 means DefaultWait.
	Wait time.Duration
	// KeepAlive is the interval of stream keep-alives and progress
	// notifications while waiting; 0 means DefaultKeepAlive.
	KeepAlive time.Duration
	// Poll is how often a waiting call checks the queue; 0 means DefaultPoll.
	Poll time.Duration
	// Getenv reads the sidecar's environment: the values of the live
	// policy's token_refs, which no proposed host name may carry. Nil
	// means only token patterns are searched for.
	Getenv func(string) string
	// Logger receives one line per proposal filed and answered; nil
	// discards.
	Logger *slog.Logger
}

var slugRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// Server is the supervise MCP server of one bottle.
type Server struct {
	cfg    Config
	queue  *queue.Queue
	log    *slog.Logger
	proxy  *url.URL
	mcp    *mcp.Server
	http   http.Handler
	client *http.Client

	// streams maps the per-request key the middleware puts in a header to
	// the response writer of that request, so a tool handler can flush
	// headers and write keep-alives on its own stream.
	streams sync.Map // string -> *streamWriter

	// submitMu makes "is the same change pending? else file it" atomic.
	submitMu sync.Mutex
}

// NewServer checks cfg and builds the server.
func NewServer(cfg Config) (*Server, error) {
	if !slugRE.MatchString(cfg.Slug) {
		return nil, fmt.Errorf("supervise: invalid bottle slug %q", cfg.Slug)
	}
	if cfg.QueueDir == "" {
		return nil, errors.New("supervise: no queue directory")
	}
	if cfg.Listen == "" {
		cfg.Listen = fmt.Sprintf(":%d", DefaultPort)
	}
	switch {
	case cfg.Wait == 0:
		cfg.Wait = DefaultWait
	case cfg.Wait < 0 || cfg.Wait > MaxWait:
		return nil, fmt.Errorf("supervise: wait %v is out of range (0 to %v)", cfg.Wait, MaxWait)
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, queue: queue.New(cfg.QueueDir), log: cfg.Logger}
	if cfg.ProxyURL != "" {
		u, err := url.Parse(cfg.ProxyURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("supervise: invalid proxy url %q", cfg.ProxyURL)
		}
		s.proxy = u
		// Only the configured proxy, never HTTP(S)_PROXY from the
		// environment: the sidecar's own traffic goes direct.
		s.client = &http.Client{
			Transport: &http.Transport{Proxy: http.ProxyURL(u)},
			Timeout:   5 * time.Second,
		}
	}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "bot-bottle-supervise", Title: "bot-bottle supervisor", Version: "1"},
		&mcp.ServerOptions{Instructions: instructions})
	s.addTools()
	// Stateless: no session lives in memory, so a restarted sidecar answers
	// the same client at once, with or without a fresh initialize. JSON
	// responses stay off: every call answers as an SSE stream, whose
	// headers the handler flushes before it waits.
	s.http = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp },
		&mcp.StreamableHTTPOptions{Stateless: true, Logger: cfg.Logger, DisableLocalhostProtection: true})
	return s, nil
}

// rebound reports a request that arrived on a loopback address under a
// Host that is neither loopback nor the sidecar's own name: a page in a
// browser on this machine whose name was rebound to 127.0.0.1. The MCP
// SDK's own guard refuses every non-loopback Host there, which refuses
// the agent in a pod (it shares the sidecar's loopback and calls it
// "supervise"), so this one takes its place.
func rebound(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || local == nil || !isLoopback(local.String()) {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return host != plan.SuperviseAlias && host != "localhost" && !isLoopback(host)
}

// isLoopback reports whether addr (host or host:port) is a loopback IP.
func isLoopback(addr string) bool {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	ip, err := netip.ParseAddr(strings.Trim(addr, "[]"))
	return err == nil && ip.IsLoopback()
}

// ServeHTTP answers MCP at every path of the port (clients use "/").
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rebound(r) {
		http.Error(w, fmt.Sprintf("Forbidden: invalid Host header %q", r.Host), http.StatusForbidden)
		return
	}
	r.Header.Del(streamHeader) // only the middleware sets it
	if r.Method != http.MethodPost {
		s.http.ServeHTTP(w, r)
		return
	}
	sw := &streamWriter{w: w, ctx: r.Context()}
	key := rand.Text()
	s.streams.Store(key, sw)
	defer s.streams.Delete(key)
	r.Header.Set(streamHeader, key)
	s.http.ServeHTTP(sw, r)
	sw.finish()
}

// Run listens on cfg.Listen and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("supervise: listening: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down, giving calls in
// flight a few seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.log.Info("supervise listening", "addr", ln.Addr().String(), "bottle", s.cfg.Slug, "queue", s.cfg.QueueDir)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("supervise: serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}
