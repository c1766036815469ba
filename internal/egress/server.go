// Package egress is the bottle's HTTP(S) proxy: absolute-form HTTP and
// CONNECT on one port, TLS terminated with the bottle's CA, every request
// checked against the live policy, scanned for secrets before the real
// token is injected, and responses scanned for prompt injection.
package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/ca"
	"github.com/bot-bottle/bot-bottle/internal/dlp"
)

// DefaultTokenAllowTimeout bounds a request held for an egress-token-allow
// answer.
const DefaultTokenAllowTimeout = 300 * time.Second

// TokenAllowTimeoutEnv names the env var that overrides it.
const TokenAllowTimeoutEnv = "EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS"

// ParseTokenAllowTimeout reads EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS: empty
// means the default; anything but a positive whole number is an error.
func ParseTokenAllowTimeout(s string) (time.Duration, error) {
	if s == "" {
		return DefaultTokenAllowTimeout, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive number of seconds", TokenAllowTimeoutEnv, s)
	}
	return time.Duration(n) * time.Second, nil
}

// Config is everything the proxy needs. The zero value of each field is the
// safe choice.
type Config struct {
	// Listen is the address to listen on, e.g. ":9099".
	Listen string
	// Listener, when set, is used instead of Listen (tests).
	Listener net.Listener
	// PolicyPath is the policy file (a bottle manifest or YAML with a
	// top-level egress: key), watched and reloaded.
	PolicyPath string
	// StateDir holds the CA (ca.pem, ca-key.pem), created when missing.
	StateDir string
	// UpstreamCAFile adds trusted roots for upstreams (PEM bundle).
	UpstreamCAFile string
	// UnsafeAllowPrivateRanges lets every route reach private, loopback and
	// link-local addresses. For local testing only: it lets the agent reach
	// whatever listens on the sidecar's networks.
	UnsafeAllowPrivateRanges bool
	// ExtraPorts are ports every route allows besides 443 and 80 (the
	// manifest has no port): local tests, self-hosted services.
	ExtraPorts []int
	// QueueDir is the supervise queue; empty means a DLP hold is refused.
	QueueDir string
	// BottleSlug names the bottle in proposals.
	BottleSlug string
	// TokenAllowTimeout bounds a held request; 0 means the default.
	TokenAllowTimeout time.Duration
	// SecretEnv names more env vars whose values the sidecar holds (besides
	// every token_ref): their values are known_secrets too.
	SecretEnv []string
	// Getenv reads the sidecar's environment (token values).
	Getenv func(string) string
	// Logger receives one JSON line per decision; nil discards.
	Logger *slog.Logger
	// Resolver resolves upstream names; nil is net.DefaultResolver.
	Resolver Resolver
	// PollInterval is how often the policy file is checked; 0 means 1s.
	PollInterval time.Duration
	// IdleTimeout closes an agent's connection or tunnel that carries no
	// request for that long; 0 means DefaultIdleTimeout. An upgraded
	// WebSocket is never idle by this measure: it lives as long as both
	// peers keep it.
	IdleTimeout time.Duration
	// HeaderTimeout bounds a request header from its first byte, and a
	// CONNECT's TLS handshake; 0 means DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// BodyTimeout cuts off a request body when no byte of it arrives for
	// that long (it restarts with every read); 0 means DefaultBodyTimeout.
	BodyTimeout time.Duration
	// MaxConns caps the agents' connections open at once (plain and
	// CONNECT tunnels alike); one more is answered 503
	// too-many-connections and closed, never queued. 0 means
	// DefaultMaxConns.
	MaxConns int
}

// Server is a running proxy.
type Server struct {
	cfg   Config
	ca    *ca.CA
	roots *x509.CertPool
	// sessions lets a new upstream connection resume an earlier TLS
	// session (one round trip and no certificate chain): an agent that
	// opens a connection per request pays the upstream handshake once.
	sessions tls.ClientSessionCache
	// tunnelBase is every tunnel's agent-facing TLS config before its
	// leaf: one set of session ticket keys for all (tunnelTLS).
	tunnelBase *tls.Config
	resolver   Resolver
	log        *slog.Logger
	state      atomic.Pointer[state]
	transport  *http.Transport
	ln         net.Listener
	ready      chan struct{}
	holdMu     sync.Mutex
	holds      map[string]*holdCall
	// bufs recycles response copy buffers; heldText, the buffers response
	// text is held in while it is scanned (holdBuf).
	bufs, heldText sync.Pool
	// bigHolds keeps grown hold buffers the pool would lose; bigScans
	// takes turns at scanning large held texts (scanHeld).
	bigHolds chan []byte
	bigScans chan struct{}
	// approved are findings an operator allowed for the proxy's life.
	approved sync.Map
	// history sees held secrets split over several requests (any connection).
	history dlp.History

	// parked are connections and tunnels waiting for a request's first byte.
	parked parkedSet

	mu      sync.Mutex
	tunnels map[*http.Server]struct{}
	closing bool
}

// New loads the CA and the policy and prepares the proxy. It listens only
// in Run.
func New(cfg Config) (*Server, error) {
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.TokenAllowTimeout == 0 {
		cfg.TokenAllowTimeout = DefaultTokenAllowTimeout
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Second
	}
	cfg.withTimeoutDefaults()
	if cfg.StateDir == "" {
		return nil, errors.New("starting egress: no state dir for the CA")
	}
	s := &Server{cfg: cfg, log: cfg.Logger, resolver: cfg.Resolver, ready: make(chan struct{}), tunnels: map[*http.Server]struct{}{}, holds: map[string]*holdCall{},
		bigHolds: make(chan []byte, keptHoldBufs), bigScans: make(chan struct{}, runtime.GOMAXPROCS(0))}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.resolver == nil {
		s.resolver = net.DefaultResolver
	}
	var err error
	if s.ca, err = ca.LoadOrCreate(cfg.StateDir); err != nil {
		return nil, fmt.Errorf("starting egress: %w", err)
	}
	if s.roots, err = x509.SystemCertPool(); err != nil || s.roots == nil {
		s.roots = x509.NewCertPool()
	}
	if cfg.UpstreamCAFile != "" {
		b, err := os.ReadFile(cfg.UpstreamCAFile)
		if err != nil {
			return nil, fmt.Errorf("starting egress: reading upstream ca: %w", err)
		}
		if !s.roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("starting egress: %s has no PEM certificates", cfg.UpstreamCAFile)
		}
	}
	st, err := s.loadState()
	if err != nil {
		return nil, fmt.Errorf("starting egress: %w", err)
	}
	s.state.Store(st)
	s.sessions = tls.NewLRUClientSessionCache(256)
	if s.tunnelBase, err = newTunnelBase(); err != nil {
		return nil, fmt.Errorf("starting egress: %w", err)
	}
	// Building the scanners allocates tens of MB that are garbage at once
	// (the gitleaks config); hand it back rather than carry it as RSS.
	debug.FreeOSMemory()
	s.transport = &http.Transport{
		Proxy:             nil, // the sidecar's own traffic goes direct
		DialContext:       s.dial,
		DialTLSContext:    s.dialTLS,
		ForceAttemptHTTP2: true, // a custom DialTLSContext turns HTTP/2 off otherwise
		// Bound what an HTTP/2 upstream may push ahead of the agent reading
		// it (Go's defaults are 4 MiB a stream, 1 GiB a connection): enough
		// for 10 MB/s a stream at 100 ms round trip, and the memory of a
		// busy proxy stays small.
		HTTP2: &http.HTTP2Config{
			MaxReceiveBufferPerStream:     1 << 20,
			MaxReceiveBufferPerConnection: 4 << 20,
		},
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return s, nil
}

// CACertPEM is the bottle CA certificate clients must trust.
func (s *Server) CACertPEM() []byte { return s.ca.CertPEM() }

// Ready is closed once the proxy listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the listening address once Ready is closed, nil before.
func (s *Server) Addr() net.Addr {
	select {
	case <-s.ready:
		return s.ln.Addr()
	default:
		return nil
	}
}

// Run serves until ctx ends, then shuts down gracefully: requests in
// flight get up to 10 seconds to finish. Call it once.
func (s *Server) Run(ctx context.Context) error {
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Listen); err != nil {
			return fmt.Errorf("starting egress: %w", err)
		}
	}
	s.ln = ln
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	close(s.ready)
	s.log.Info("egress listening", "addr", ln.Addr().String(), "routes", len(s.state.Load().pol.Routes))
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go s.watch(wctx)
	errc := make(chan error, 1)
	conns := newConnCap(s.cfg.MaxConns, s.log)
	go func() { errc <- srv.Serve(newParkingListener(ln, conns, s.cfg.IdleTimeout, &s.parked)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving egress: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.mu.Lock()
	s.closing = true
	tunnels := make([]*http.Server, 0, len(s.tunnels))
	for t := range s.tunnels {
		tunnels = append(tunnels, t)
	}
	s.mu.Unlock()
	s.parked.closeAll()
	var wg sync.WaitGroup
	for _, t := range tunnels {
		wg.Add(1)
		go func() { defer wg.Done(); t.Shutdown(sctx) }()
	}
	err := srv.Shutdown(sctx)
	wg.Wait()
	s.transport.CloseIdleConnections()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stopping egress: %w", err)
	}
	return nil
}
