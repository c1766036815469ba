package egress

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The timeouts here are test-shortened; closedEventually allows far more.
const (
	testTimeout = 300 * time.Millisecond
	generous    = 20 * time.Second
)

// anyPathPolicy allows every path; its outbound DLP (on by default) reads
// a request body in the proxy before anything goes upstream.
const anyPathPolicy = "egress:\n  routes:\n    - host: up.example.com\n"

func shortTimeouts(c *Config) {
	c.IdleTimeout, c.HeaderTimeout, c.BodyTimeout = testTimeout, testTimeout, testTimeout
}

// closedEventually reads c until the proxy closes it; it fails if that
// takes longer than the generous bound (the timeout did not fire).
func closedEventually(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(generous))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: still open after %s", what, generous)
	}
}

// answered checks that a normal request through p gets its answer.
func answered(t *testing.T, p *proxy, url string) {
	t.Helper()
	st, code, body, err := do(t, p.client(t), newReq(t, "GET", url, nil))
	if err != nil || st != 200 {
		t.Fatalf("a normal request beside the parked connections: %d %s %v %s", st, code, err, body)
	}
}

func dialProxy(t *testing.T, p *proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.url.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// plainGet sends one absolute-form GET on c and reads its response.
func plainGet(t *testing.T, c net.Conn, br *bufio.Reader, port string) {
	t.Helper()
	fmt.Fprintf(c, "GET http://up.example.com:%s/hello HTTP/1.1\r\nHost: up.example.com:%s\r\n\r\n", port, port)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET: %s", resp.Status)
	}
}

// TestParkedPlainConnectionClosed: a connection that never sends a byte
// and a keep-alive one left idle after a request are both closed.
func TestParkedPlainConnectionClosed(t *testing.T) {
	up := newUpstream(t, false)
	p := startProxy(t, up, anyPathPolicy, shortTimeouts)
	silent := dialProxy(t, p)
	kept := dialProxy(t, p)
	plainGet(t, kept, bufio.NewReader(kept), up.port)
	answered(t, p, "http://up.example.com:"+up.port+"/beside")
	closedEventually(t, silent, "a connection that never sent a byte")
	closedEventually(t, kept, "an idle keep-alive connection")
	answered(t, p, "http://up.example.com:"+up.port+"/after")
}

// agentTLS opens a tunnel to hostport and finishes the agent's TLS
// handshake offering protos.
func agentTLS(t *testing.T, p *proxy, hostport string, protos ...string) *tls.Conn {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.srv.CACertPEM())
	tc := tls.Client(connect(t, p, hostport), &tls.Config{ServerName: "up.example.com", RootCAs: roots, NextProtos: protos})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc
}

// TestParkedTunnelClosed: a TLS tunnel that carries no request after its
// handshake is closed, over HTTP/1.1 and HTTP/2, and so is one left idle
// after a request.
func TestParkedTunnelClosed(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, anyPathPolicy, shortTimeouts)
	hostport := "up.example.com:" + up.port
	h1 := agentTLS(t, p, hostport, "http/1.1")
	h2 := agentTLS(t, p, hostport, "h2")
	usedH1 := agentTLS(t, p, hostport, "http/1.1")
	br := bufio.NewReader(usedH1)
	fmt.Fprintf(usedH1, "GET /first HTTP/1.1\r\nHost: %s\r\n\r\n", hostport)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request on the HTTP/1.1 tunnel: %v %v", resp, err)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	usedH2, err := (&http2.Transport{}).NewClientConn(agentTLS(t, p, hostport, "h2"))
	if err != nil {
		t.Fatal(err)
	}
	defer usedH2.Close()
	if resp, err := usedH2.RoundTrip(newReq(t, "GET", "https://"+hostport+"/first", nil)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request on the HTTP/2 tunnel: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	answered(t, p, "https://"+hostport+"/beside")
	closedEventually(t, h1, "an HTTP/1.1 tunnel that never sent a request")
	closedEventually(t, h2, "an HTTP/2 tunnel that never sent a request")
	usedH1.SetReadDeadline(time.Now().Add(generous))
	if _, err := io.Copy(io.Discard, br); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("an HTTP/1.1 tunnel idle after a request: still open after %s", generous)
	}
	for end := time.Now().Add(generous); !usedH2.State().Closed; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("an HTTP/2 tunnel idle after a request: still open after %s", generous)
		}
	}
	answered(t, p, "https://"+hostport+"/after")
}

// TestHeaderThatNeverFinishes: a request header trickled a line at a time
// (slow loris) is cut off by the header timeout, however steady the
// trickle.
func TestHeaderThatNeverFinishes(t *testing.T) {
	up := newUpstream(t, false)
	p := startProxy(t, up, anyPathPolicy, shortTimeouts)
	c := dialProxy(t, p)
	fmt.Fprintf(c, "GET http://up.example.com:%s/slow HTTP/1.1\r\nHost: up.example.com:%s\r\n", up.port, up.port)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(testTimeout / 6):
			}
			if _, err := fmt.Fprintf(c, "X-Trickle-%d: x\r\n", i); err != nil {
				return
			}
		}
	}()
	answered(t, p, "http://up.example.com:"+up.port+"/beside")
	closedEventually(t, c, "a header trickled forever")
	answered(t, p, "http://up.example.com:"+up.port+"/after")
}

// stalledPlain sends a POST whose body stops after a few bytes.
func stalledPlain(t *testing.T, p *proxy, port string) net.Conn {
	c := dialProxy(t, p)
	fmt.Fprintf(c, "POST http://up.example.com:%s/upload HTTP/1.1\r\nHost: up.example.com:%s\r\nContent-Length: 1000\r\n\r\npart of it", port, port)
	return c
}

// TestBodyThatNeverFinishes: a body that stops arriving is refused with
// the reason and its connection closed, on plain HTTP; on HTTP/2 the
// stream is refused and the tunnel carries the next request.
func TestBodyThatNeverFinishes(t *testing.T) {
	t.Run("plain, scanned", func(t *testing.T) {
		up := newUpstream(t, false)
		p := startProxy(t, up, anyPathPolicy, shortTimeouts)
		c := stalledPlain(t, p, up.port)
		answered(t, p, "http://up.example.com:"+up.port+"/beside")
		c.SetReadDeadline(time.Now().Add(generous))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer to a stalled body: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(b), "body timeout") {
			t.Fatalf("stalled body: %s %s", resp.Status, b)
		}
		closedEventually(t, c, "the connection of a stalled body")
		if up.seen.count() != 1 { // the /beside request only
			t.Errorf("the upstream saw %d requests, want 1", up.seen.count())
		}
	})
	t.Run("h2", func(t *testing.T) {
		up := newUpstream(t, true)
		p := startProxy(t, up, anyPathPolicy, shortTimeouts)
		hostport := "up.example.com:" + up.port
		cc, err := (&http2.Transport{}).NewClientConn(agentTLS(t, p, hostport, "h2"))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		pr, pw := io.Pipe()
		defer pw.Close()
		go pw.Write([]byte("part of it"))
		done := make(chan *http.Response, 1)
		go func() {
			resp, err := cc.RoundTrip(newReq(t, "POST", "https://"+hostport+"/upload", pr))
			if err != nil {
				t.Errorf("stalled body: %v", err)
			}
			done <- resp
		}()
		answered(t, p, "https://"+hostport+"/beside")
		var resp *http.Response
		select {
		case resp = <-done:
		case <-time.After(generous):
			t.Fatalf("a stalled HTTP/2 body still waits after %s", generous)
		}
		if resp == nil {
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "body timeout") {
			t.Fatalf("stalled body: %s %s", resp.Status, b)
		}
		next, err := cc.RoundTrip(newReq(t, "GET", "https://"+hostport+"/next", nil))
		if err != nil || next.StatusCode != 200 {
			t.Fatalf("the tunnel after a stalled stream: %v %v", next, err)
		}
		next.Body.Close()
	})
}

// TestSlowBodyKeepsGoing: a body that arrives slowly but steadily is not
// cut off: the body timeout restarts with every read.
func TestSlowBodyKeepsGoing(t *testing.T) {
	up := newUpstream(t, false)
	const timeout = 2 * time.Second
	p := startProxy(t, up, anyPathPolicy, func(c *Config) { c.BodyTimeout = timeout })
	pr, pw := io.Pipe()
	go func() {
		for range 30 { // 3 s in all, a byte every 100 ms
			time.Sleep(timeout / 20)
			pw.Write([]byte("x"))
		}
		pw.Close()
	}()
	st, code, body, err := do(t, p.client(t), newReq(t, "POST", "http://up.example.com:"+up.port+"/slow", pr))
	if err != nil || st != 200 {
		t.Fatalf("a slow but steady body: %d %s %v %s", st, code, err, body)
	}
	if _, b := up.seen.last(t); string(b) != strings.Repeat("x", 30) {
		t.Errorf("upstream body = %q", b)
	}
}

func TestTimeoutDefaults(t *testing.T) {
	var c Config
	c.withTimeoutDefaults()
	if c.IdleTimeout != DefaultIdleTimeout || c.HeaderTimeout != DefaultHeaderTimeout || c.BodyTimeout != DefaultBodyTimeout {
		t.Errorf("defaults: %+v", c)
	}
}

// stallingReader gives a few bytes, then fails as a timed-out body does.
type stallingReader struct{ sent bool }

func (r *stallingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "part of it"), nil
	}
	return 0, os.ErrDeadlineExceeded
}

// TestStalledBodyHoldsWhatArrived: a body that claims 8 MiB and stops
// after 10 bytes makes the proxy hold what arrived, not what it claimed.
func TestStalledBodyHoldsWhatArrived(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := readBody(&stallingReader{}, MaxScanBody, MaxScanBody); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("readBody: %v", err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("a 10-byte start of an 8 MiB body allocated %d bytes", got)
	}
}

func TestReadBodyLengths(t *testing.T) {
	for _, n := range []int{0, 1, 100, 64 << 10, 64<<10 + 1, 300 << 10} {
		want := strings.Repeat("x", n)
		b, err := readBody(iotest.OneByteReader(strings.NewReader(want)), int64(n), MaxScanBody)
		if err != nil || string(b) != want {
			t.Errorf("length %d: got %d bytes, %v", n, len(b), err)
		}
		if _, err := readBody(strings.NewReader(want), int64(n+1), MaxScanBody); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("length %d claimed %d: %v", n, n+1, err)
		}
	}
	if _, err := readBody(strings.NewReader("abc"), 2, MaxScanBody); err == nil {
		t.Error("a body longer than its Content-Length was read")
	}
}

// TestHTTP2HeaderThatNeverFinishes: on an HTTP/2 tunnel a header block
// that never ends opens no stream, so the idle timeout closes the tunnel.
func TestHTTP2HeaderThatNeverFinishes(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, anyPathPolicy, shortTimeouts)
	hostport := "up.example.com:" + up.port
	tc := agentTLS(t, p, hostport, "h2")
	io.WriteString(tc, http2.ClientPreface)
	fr := http2.NewFramer(tc, tc)
	fr.WriteSettings()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", hostport}, {":path", "/slow"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: false}); err != nil {
		t.Fatal(err)
	}
	answered(t, p, "https://"+hostport+"/beside")
	closedEventually(t, tc, "an HTTP/2 header block that never ends")
}
