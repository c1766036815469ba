package dnsguard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Default settings.
const (
	DefaultListen = ":53"
	DefaultTTL    = 60
	// DefaultLogLimit bounds refused-query log lines per second, so an agent
	// that floods the resolver cannot fill the host's disk.
	DefaultLogLimit = 50
)

// Config configures the resolver. The zero value (with a Log) is a working
// resolver on :53 that answers DefaultNames.
type Config struct {
	// Listen is host:port for both UDP and TCP. Default ":53". Port 0 picks
	// a free port (the same for UDP and TCP).
	Listen string
	// Names are answered besides DefaultNames.
	Names []string
	// Self is the IPv4 address to answer with. When invalid (the default)
	// the resolver answers with its own address as the client reaches it.
	Self netip.Addr
	// TTL of the answers, in seconds. Default 60.
	TTL uint32
	// LogPath is the file refused queries are appended to, one JSON line
	// each (logs/dns.jsonl). Run opens it and closes it.
	LogPath string
	// Log receives the lines instead when LogPath is empty.
	Log io.Writer
	// LogLimit is the most refused-query lines written per second; the
	// rest are counted in the next line's "suppressed". Default 50.
	LogLimit int
	// Logger gets operational messages. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Server is the resolver. It implements the sidecar's daemon contract:
// Name, Run and Ready.
type Server struct {
	cfg   Config
	ans   answerer
	ready chan struct{}

	mu      sync.Mutex
	udpAddr net.Addr
	tcpAddr net.Addr
	log     *refusalLog
	addrs   func() ([]net.Addr, error)
}

// New validates cfg and returns a resolver that is not yet listening.
func New(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("configuring dns: listen address %q: %w", cfg.Listen, err)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.LogLimit <= 0 {
		cfg.LogLimit = DefaultLogLimit
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Self.IsValid() && !cfg.Self.Is4() {
		return nil, fmt.Errorf("configuring dns: self address %s is not IPv4", cfg.Self)
	}
	ans, err := newAnswerer(cfg.Names, cfg.TTL)
	if err != nil {
		return nil, fmt.Errorf("configuring dns: %w", err)
	}
	return &Server{
		cfg:   cfg,
		ans:   ans,
		ready: make(chan struct{}),
		log:   &refusalLog{w: cfg.Log, limit: cfg.LogLimit, now: cfg.Now, logger: cfg.Logger},
		addrs: net.InterfaceAddrs,
	}, nil
}

// Name is the daemon's name in BOT_BOTTLE_SIDECAR_DAEMONS.
func (s *Server) Name() string { return "dns" }

// Ready is closed once both the UDP and the TCP listener accept queries.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the bound UDP and TCP addresses (nil before Ready).
func (s *Server) Addrs() (udp, tcp net.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.udpAddr, s.tcpAddr
}

// Run serves until ctx is done, then shuts down. It returns an error when a
// listener cannot be opened or fails while serving.
func (s *Server) Run(ctx context.Context) error {
	if s.cfg.LogPath != "" {
		f, err := os.OpenFile(s.cfg.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("starting dns: opening log: %w", err)
		}
		defer f.Close()
		s.log.setWriter(f)
	}
	pc, ln, err := listenBoth(s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("starting dns: %w", err)
	}
	s.mu.Lock()
	s.udpAddr, s.tcpAddr = pc.LocalAddr(), ln.Addr()
	s.mu.Unlock()

	var started sync.WaitGroup
	started.Add(2)
	handler := dns.HandlerFunc(s.serveDNS)
	udp := &dns.Server{PacketConn: pc, Handler: handler, NotifyStartedFunc: started.Done}
	tcp := &dns.Server{Listener: ln, Handler: handler, NotifyStartedFunc: started.Done,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}

	errc := make(chan error, 2)
	go func() { errc <- fmt.Errorf("serving dns over udp: %w", udp.ActivateAndServe()) }()
	go func() { errc <- fmt.Errorf("serving dns over tcp: %w", tcp.ActivateAndServe()) }()
	go func() {
		started.Wait()
		close(s.ready)
	}()
	s.cfg.Logger.Info("dns listening", "udp", pc.LocalAddr().String(), "tcp", ln.Addr().String())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// Shutdown fails only for a server that never started; ActivateAndServe
	// has then already returned, and the listener is closed below.
	_ = udp.ShutdownContext(shut)
	_ = tcp.ShutdownContext(shut)
	pc.Close()
	ln.Close()
	return runErr
}

// listenBoth opens UDP and TCP on the same address. With port 0 the TCP
// listener takes the port UDP got, retrying if another process holds it.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 10 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listening on udp %s: %w", addr, err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = fmt.Errorf("listening on tcp %s: %w", pc.LocalAddr(), err)
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}

func (s *Server) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	self := s.cfg.Self
	if !self.IsValid() {
		self = s.selfFor(w.LocalAddr(), w.RemoteAddr())
	}
	resp, out := s.ans.answer(req, self)
	if out.Refused {
		s.log.refused(req, w.RemoteAddr(), out.Reason)
	}
	if err := w.WriteMsg(resp); err != nil {
		s.cfg.Logger.Debug("writing dns response", "err", err)
	}
}

// selfFor finds the address the client reaches the resolver at: the local
// socket address when it is specific (TCP, or a listener bound to one
// address), else the interface address on the client's subnet. A wildcard
// UDP socket does not say which address a datagram came in on.
func (s *Server) selfFor(local, remote net.Addr) netip.Addr {
	if a := addrIP(local); a.Is4() && !a.IsUnspecified() {
		return a
	}
	client := addrIP(remote)
	if !client.IsValid() {
		return netip.Addr{}
	}
	ifaddrs, err := s.addrs()
	if err != nil {
		return netip.Addr{}
	}
	return onSubnet(ifaddrs, client)
}

// onSubnet returns the first IPv4 interface address whose network holds
// client.
func onSubnet(ifaddrs []net.Addr, client netip.Addr) netip.Addr {
	for _, ia := range ifaddrs {
		n, ok := ia.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		ones, _ := n.Mask.Size()
		if ip.Is4() && len(n.Mask) == net.IPv6len {
			ones -= 96
		}
		pfx, err := ip.Prefix(ones)
		if err != nil || !ip.Is4() {
			continue
		}
		if pfx.Contains(client) {
			return ip
		}
	}
	return netip.Addr{}
}

func addrIP(a net.Addr) netip.Addr {
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return netip.Addr{}
	}
	out, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return out.Unmap()
}

// refusalLog writes one JSON line per refused query, at most limit a
// second; lines over the limit are counted and reported on the next line.
type refusalLog struct {
	mu         sync.Mutex
	w          io.Writer
	limit      int
	now        func() time.Time
	second     int64
	inSecond   int
	suppressed int
	logger     *slog.Logger
	failed     bool
}

// refusalLine is one line of logs/dns.jsonl.
type refusalLine struct {
	Time       string `json:"time"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Client     string `json:"client,omitempty"`
	Reason     string `json:"reason"`
	Suppressed int    `json:"suppressed,omitempty"`
}

func (l *refusalLog) setWriter(w io.Writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w = w
}

func (l *refusalLog) refused(req *dns.Msg, client net.Addr, reason string) {
	line := refusalLine{Reason: reason}
	if len(req.Question) > 0 {
		q := req.Question[0]
		line.Name = q.Name
		line.Type = dns.Type(q.Qtype).String()
	}
	if client != nil {
		line.Client = client.String()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if sec := now.Unix(); sec != l.second {
		l.second, l.inSecond = sec, 0
	}
	if l.inSecond >= l.limit {
		l.suppressed++
		return
	}
	l.inSecond++
	line.Time = now.UTC().Format(time.RFC3339Nano)
	line.Suppressed, l.suppressed = l.suppressed, 0
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	if _, err := l.w.Write(append(b, '\n')); err != nil && !l.failed {
		// Keep answering: a full disk must not turn refusals into timeouts.
		l.failed = true
		l.logger.Error("writing dns log", "err", err)
	}
}
