package egress

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// IntrospectionHost serves the live route table over plain HTTP through
// the proxy: GET http://_egress.local/allowlist.
const IntrospectionHost = "_egress.local"

// ServeHTTP is the proxy's front door: CONNECT, absolute-form requests and
// the introspection host.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		s.serveConnect(w, r)
		return
	}
	defer s.boundBody(w, r)()
	if !r.URL.IsAbs() || r.URL.Host == "" {
		s.refuse(w, r, target{}, policy.Decision{Code: policy.CodeBadRequest, Reason: "this is a proxy: send absolute-form requests (http://host/path) or CONNECT"}, nil)
		return
	}
	if policy.NormalizeHost(r.URL.Hostname()) == IntrospectionHost {
		s.serveIntrospection(w, r)
		return
	}
	t, err := targetOf(r.URL.Scheme, r.URL.Host)
	if err != nil {
		s.refuse(w, r, target{}, policy.Decision{Code: policy.CodeBadRequest, Reason: err.Error()}, nil)
		return
	}
	if d, rt, ok := s.checkHost(s.state.Load(), r.URL.Host, t); !ok {
		s.refuse(w, r, rt, d, nil)
		return
	}
	s.forward(w, r, t)
}

// target is where a request goes: the name the policy checks is the name
// dialed.
type target struct {
	scheme string
	host   string // normalized
	port   int
}

func (t target) hostport() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

func targetOf(scheme, hostport string) (target, error) {
	t := target{scheme: scheme}
	switch scheme {
	case "http":
		t.port = policy.PortHTTP
	case "https":
		t.port = policy.PortHTTPS
	default:
		return t, fmt.Errorf("scheme %q is not http or https", scheme)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	} else if t.port, err = strconv.Atoi(port); err != nil || t.port < 1 || t.port > 65535 || strconv.Itoa(t.port) != port {
		// Only the canonical spelling: "01" or "+443" would name a port
		// one way here and another in the Host header check.
		return t, fmt.Errorf("bad port in %q", hostport)
	}
	t.host = policy.NormalizeHost(host)
	if t.host == "" {
		return t, fmt.Errorf("no host in %q", hostport)
	}
	return t, nil
}

func (s *Server) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/allowlist" {
		http.Error(w, "only GET http://_egress.local/allowlist is served here", http.StatusNotFound)
		return
	}
	st := s.state.Load()
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(map[string]any{"routes": st.pol.Table(), "log": st.pol.Log, "policy_sha256": st.hash})
}

// serveConnect decides a CONNECT before any TLS; an allowed one gets a
// TLS server with a leaf for the CONNECT host, and each request inside is
// decided again.
func (s *Server) serveConnect(w http.ResponseWriter, r *http.Request) {
	t, err := targetOf("https", r.Host)
	st := s.state.Load()
	var d policy.Decision
	if err != nil {
		d = policy.Decision{Code: policy.CodeBadRequest, Reason: "CONNECT target: " + err.Error()}
	} else if hd, rt, ok := s.checkHost(st, r.Host, t); !ok {
		d, t = hd, rt
	} else {
		d = st.pol.DecideConnect(t.host, t.port)
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		s.refuse(w, r, t, policy.Decision{Code: policy.CodeBadRequest, Reason: "CONNECT needs HTTP/1.1"}, nil)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	if !d.Allow {
		s.refuseConnect(conn, st, r, t, d)
		conn.Close()
		return
	}
	s.logDecision(st, r, t, d, http.StatusOK, nil)
	// The tunnel runs on a goroutine of its own, so net/http's state for
	// the CONNECT (its buffers, this handler's stack) is freed for the
	// tunnel's life.
	go s.openTunnel(conn, brw.Reader, st, r, t)
}

// openTunnel answers an allowed CONNECT and serves the TLS inside it.
func (s *Server) openTunnel(conn net.Conn, br *bufio.Reader, st *state, r *http.Request, t target) {
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		conn.Close()
		return
	}
	// Bytes the client sent after CONNECT may sit in br already.
	pc := &peekedConn{Conn: conn, r: br}
	pc.SetReadDeadline(time.Now().Add(s.cfg.HeaderTimeout))
	first, err := pc.r.Peek(1)
	pc.SetReadDeadline(time.Time{})
	if err != nil {
		conn.Close()
		return
	}
	if first[0] != 0x16 { // not a TLS handshake record
		d := policy.Decision{Code: policy.CodeOpaqueTunnel, Reason: "only TLS may be sent through CONNECT; plain HTTP goes as absolute-form requests"}
		s.refuseConnect(conn, st, r, t, d)
		conn.Close()
		return
	}
	s.serveTunnel(pc, r, t)
}

func (s *Server) serveTunnel(conn net.Conn, connectReq *http.Request, t target) {
	tconn := tls.Server(conn, s.tunnelTLS(connectReq, t))
	tconn.SetDeadline(time.Now().Add(s.cfg.HeaderTimeout))
	if err := tconn.Handshake(); err != nil {
		tconn.Close()
		return
	}
	tconn.SetDeadline(time.Time{})
	// A fresh goroutine waits for the request: the handshake's deep stack
	// is not kept for as long as the tunnel is idle.
	go s.parkTunnel(tconn, t)
}

// parkTunnel waits for the first request on a tunnel, then serves it.
// Until a request starts, the tunnel is only its TLS state.
func (s *Server) parkTunnel(tconn *tls.Conn, t target) {
	first, err := s.parked.firstByte(tconn, s.cfg.IdleTimeout)
	if err != nil {
		tconn.Close()
		return
	}
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer s.boundBody(w, r)()
			r.URL.Scheme, r.URL.Host = "https", r.Host
			if !sameHost(r.Host, t) {
				d := policy.Decision{Code: policy.CodeHostMismatch, Reason: fmt.Sprintf("Host %q does not match CONNECT target %s", r.Host, t.hostport())}
				s.refuse(w, r, t, d, nil)
				return
			}
			s.forward(w, r, t)
		}),
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		tconn.Close()
		return
	}
	s.tunnels[hs] = struct{}{}
	s.mu.Unlock()
	s.serveTunnelConn(hs, &replayTLS{Conn: tconn, r: replay{b: first, has: true}})
	s.mu.Lock()
	delete(s.tunnels, hs)
	s.mu.Unlock()
}

// tunnelTLS is the agent-facing TLS of one tunnel: a leaf for the CONNECT
// host, and only for it. Every tunnel shares the server's session ticket
// keys, so an agent that opens a connection per request resumes its
// session (no certificate, no signature) instead of a full handshake.
func (s *Server) tunnelTLS(connectReq *http.Request, t target) *tls.Config {
	cfg := s.tunnelBase.Clone()
	// Checked on every ClientHello, resumed or not: the name the client
	// verifies must be the name the policy checked. No SNI is normal for
	// an IP literal.
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if hello.ServerName != "" && policy.NormalizeHost(hello.ServerName) != t.host {
			d := policy.Decision{Code: policy.CodeHostMismatch, Reason: fmt.Sprintf("TLS SNI %q does not match CONNECT host %s", hello.ServerName, t.host)}
			s.logDecision(s.state.Load(), connectReq, t, d, 0, nil)
			return nil, fmt.Errorf("%s", d.Reason)
		}
		return nil, nil
	}
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.ca.Leaf(t.host) }
	return cfg
}

// newTunnelBase is what every tunnel's TLS config is cloned from, with
// ticket keys of the proxy's own (random, for its life: a resumed
// session is no more than the sidecar's memory already holds).
func newTunnelBase() (*tls.Config, error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	c := &tls.Config{NextProtos: tunnelProtos(), MinVersion: tls.VersionTLS12}
	c.SetSessionTicketKeys([][32]byte{key})
	return c, nil
}

// peekedConn reads first what the hijacked bufio.Reader already holds,
// then lets it go (4 KiB a tunnel).
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(p)
		}
		c.r = nil
	}
	return c.Conn.Read(p)
}

// oneConnListener hands one connection to an http.Server and reports the
// listener closed once that connection is.
type oneConnListener struct {
	conn net.Conn
	once sync.Once
	done chan struct{}
	used bool
	mu   sync.Mutex
}

func newOneConnListener(c net.Conn) *oneConnListener {
	l := &oneConnListener{done: make(chan struct{})}
	l.conn = &closeNotifyConn{Conn: c, onClose: func() { l.once.Do(func() { close(l.done) }) }}
	return l
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if !l.used {
		l.used = true
		l.mu.Unlock()
		return l.conn, nil
	}
	l.mu.Unlock()
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }

type closeNotifyConn struct {
	net.Conn
	onClose func()
}

func (c *closeNotifyConn) Close() error {
	err := c.Conn.Close()
	c.onClose()
	return err
}

// sameHost reports whether a Host header names the CONNECT target (a
// missing port means the target's).
func sameHost(hostHeader string, t target) bool {
	h, p, err := net.SplitHostPort(hostHeader)
	if err != nil {
		h, p = hostHeader, ""
	}
	return policy.NormalizeHost(h) == t.host && (p == "" || p == strconv.Itoa(t.port))
}
