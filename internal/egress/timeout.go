package egress

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Read timeouts toward the agent (docs/egress.md, Timeouts). Idle: no byte
// of a request has arrived (a new connection, a tunnel after its TLS
// handshake, a keep-alive connection between requests). Header: from a
// request's first byte to the end of its header, and for a CONNECT's TLS
// handshake. Body: the longest gap between two reads of a request body
// that yield bytes; it restarts with every read.
const (
	DefaultIdleTimeout   = 2 * time.Minute
	DefaultHeaderTimeout = 30 * time.Second
	DefaultBodyTimeout   = 60 * time.Second
)

// DefaultMaxConns is how many connections from agents may be open at
// once (docs/egress.md, Timeouts): far more than an agent's clients keep
// (tens), few enough that all of them parked hold tens of MB, not
// hundreds.
const DefaultMaxConns = 1024

// withTimeoutDefaults fills the zero timeouts.
func (c *Config) withTimeoutDefaults() {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = DefaultHeaderTimeout
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
}

// parkedSet holds the connections waiting for their first byte, so a
// shutdown can close them.
type parkedSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (p *parkedSet) add(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if p.conns == nil {
		p.conns = map[net.Conn]struct{}{}
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *parkedSet) remove(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *parkedSet) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// firstByte waits up to idle for one byte. A connection parked here holds
// a goroutine and its socket, not net/http's read and write buffers (4 KiB
// each) nor, in a tunnel, an HTTP server: those are made once a request
// starts.
func (p *parkedSet) firstByte(c net.Conn, idle time.Duration) (byte, error) {
	if !p.add(c) {
		return 0, net.ErrClosed
	}
	defer p.remove(c)
	var b [1]byte
	c.SetReadDeadline(time.Now().Add(idle))
	_, err := io.ReadFull(c, b[:])
	c.SetReadDeadline(time.Time{})
	return b[0], err
}

// replay hands back the byte firstByte read before reading on.
type replay struct {
	b   byte
	has bool
}

func (r *replay) read(p []byte, next func([]byte) (int, error)) (int, error) {
	if r.has && len(p) > 0 {
		p[0], r.has = r.b, false
		return 1, nil
	}
	return next(p)
}

// replayConn is a plain connection whose first byte was read by firstByte.
type replayConn struct {
	net.Conn
	r replay
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.read(p, c.Conn.Read) }

// replayTLS is a tunnel's TLS connection whose first byte was read by
// firstByte; HTTP/2 still sees its ConnectionState.
type replayTLS struct {
	*tls.Conn
	r replay
}

func (c *replayTLS) Read(p []byte) (int, error) { return c.r.read(p, c.Conn.Read) }

// tunnelConn is what serveTunnelConn serves: a *tls.Conn or a replayTLS.
type tunnelConn interface {
	net.Conn
	Handshake() error
	ConnectionState() tls.ConnectionState
}

// parkingListener accepts connections at once but hands one to the HTTP
// server only when its first byte arrives; one silent past idle is closed.
type parkingListener struct {
	net.Listener
	cap    *connCap
	idle   time.Duration
	parked *parkedSet
	ready  chan net.Conn
	done   chan struct{}
	once   sync.Once
	err    error // why accepting stopped; read after done is closed
}

func newParkingListener(ln net.Listener, cap *connCap, idle time.Duration, parked *parkedSet) *parkingListener {
	l := &parkingListener{Listener: ln, cap: cap, idle: idle, parked: parked, ready: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *parkingListener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil && isTemporary(err) {
			// Out of file descriptors and the like: back off as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		if err != nil {
			l.stop(err)
			return
		}
		delay = 0
		if c, ok := l.cap.admit(c); ok {
			go l.park(c)
		}
	}
}

// isTemporary is net/http's test for an accept error worth retrying
// (EMFILE, ENFILE, EINTR).
func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func (l *parkingListener) park(c net.Conn) {
	b, err := l.parked.firstByte(c, l.idle)
	if err != nil {
		c.Close()
		return
	}
	select {
	case l.ready <- &replayConn{Conn: c, r: replay{b: b, has: true}}:
	case <-l.done:
		c.Close()
	}
}

func (l *parkingListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, l.err
	}
}

func (l *parkingListener) stop(err error) {
	l.once.Do(func() { l.err = err; close(l.done) })
}

func (l *parkingListener) Close() error {
	err := l.Listener.Close()
	l.stop(net.ErrClosed)
	return err
}

// deadlineBody bounds the wait for each read of a request body: a body
// that stops arriving is cut off once no byte came for the body timeout,
// however long it has run. The deadline is set only while a read waits,
// so an upstream slow to take the body does not count against the agent.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	d       time.Duration
	mu      sync.Mutex
	stopped bool // the body ended or the handler returned: hands off the connection
	ended   bool // the body was read to its end
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if !b.set(time.Now().Add(b.d)) {
		return b.ReadCloser.Read(p)
	}
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The deadline stays passed, so net/http's drain of the rest of
		// the body fails too and the connection is closed.
		b.stop()
		return n, fmt.Errorf("no byte of the body arrived for %s (the body timeout): %w", b.d, err)
	}
	b.set(time.Time{})
	if err == io.EOF {
		b.mu.Lock()
		b.ended = true
		b.mu.Unlock()
	}
	if err != nil {
		// After the end net/http reads the connection itself (to see the
		// agent hang up); a deadline set then would cancel the request.
		b.stop()
	}
	return n, err
}

// set changes the read deadline unless stopped; false means it did not.
func (b *deadlineBody) set(t time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return false
	}
	if err := b.rc.SetReadDeadline(t); err != nil {
		b.stopped = true
		return false
	}
	return true
}

func (b *deadlineBody) stop() {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
}

// boundBody puts the body timeout on r's body; call the returned func
// when the handler returns. A gRPC call's body is a stream that may rest
// for as long as the call lives (like a WebSocket): it is bounded by
// HTTP/2 flow control and the stream limit instead.
func (s *Server) boundBody(w http.ResponseWriter, r *http.Request) func() {
	if r.Body == nil || r.Body == http.NoBody || isGRPC(r.Header) {
		return func() {}
	}
	b := &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), d: s.cfg.BodyTimeout}
	r.Body = b
	return b.stop
}

// closeIfBodyAwaitsContinue closes the connection after a response written
// before an Expect: 100-continue body was read. net/http does so itself
// only while the body is its own reader; behind deadlineBody it would
// wait to drain a body the agent sends only after a 100 that never comes.
func closeIfBodyAwaitsContinue(w http.ResponseWriter, r *http.Request) {
	b, ok := r.Body.(*deadlineBody)
	if !ok || !strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		return
	}
	b.mu.Lock()
	ended := b.ended
	b.mu.Unlock()
	if !ended {
		w.Header().Set("Connection", "close")
	}
}
