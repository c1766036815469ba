package egress

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

// h2Get sends one HTTP/2 GET on an agent's TLS tunnel and returns the
// status and refusal code.
func h2Get(t testing.TB, tc *tls.Conn, url string) (int, string) {
	t.Helper()
	cc, err := (&http2.Transport{}).NewClientConn(tc)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	resp, err := cc.RoundTrip(newReq(t, "GET", url, nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get(RefusalHeader)
}

// h2Client is an agent's HTTP client that prefers HTTP/2.
func (p *proxy) h2Client(t testing.TB) *http.Client {
	c := p.client(t)
	tr := c.Transport.(*http.Transport)
	tr.ForceAttemptHTTP2 = true
	tr.TLSClientConfig.NextProtos = []string{"h2", "http/1.1"}
	return c
}

func TestHTTP2ToTheAgent(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, basePolicy, nil)
	c := p.h2Client(t)
	resp, err := c.Do(newReq(t, "GET", "https://up.example.com:"+up.port+"/v1/hello", nil, "Authorization", "Bearer placeholder"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || !strings.Contains(string(body), `"/v1/hello"`) {
		t.Fatalf("agent got %s %d %s", resp.Proto, resp.StatusCode, body)
	}
	if r, _ := up.seen.last(t); r.Header.Get("Authorization") != "Bearer "+heldToken {
		t.Errorf("token not injected on an HTTP/2 stream: %q", r.Header.Get("Authorization"))
	}
	// Each stream is decided on its own: path matches and DLP apply.
	st, code, _, _ := do(t, c, newReq(t, "GET", "https://up.example.com:"+up.port+"/admin", nil))
	if st != 403 || code != "no-match" {
		t.Errorf("/admin over h2: %d %q, want 403 no-match", st, code)
	}
	st, code, _, _ = do(t, c, newReq(t, "POST", "https://up.example.com:"+up.port+"/v1/x", strings.NewReader("key="+heldToken)))
	if st != 403 || code != "dlp" {
		t.Errorf("secret over h2: %d %q, want 403 dlp", st, code)
	}
}

// TestRedTeamHTTP2ManyStreams: more streams than the limit at once are
// queued or refused by the protocol, and every one that is served is a
// decided request.
func TestRedTeamHTTP2ManyStreams(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, basePolicy, nil)
	c := p.h2Client(t)
	var wg sync.WaitGroup
	errs := make(chan string, 300)
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, code, _, err := do(t, c, newReq(t, "GET", fmt.Sprintf("https://up.example.com:%s/admin/%d", up.port, i), nil))
			if err == nil && (st != 403 || code != "no-match") {
				errs <- fmt.Sprintf("stream %d: %d %q", i, st, code)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if up.seen.count() != 0 {
		t.Errorf("upstream saw %d requests", up.seen.count())
	}
}

// TestRedTeamHTTP2HugeHeaderBlock: a header list past the limit is
// refused (431) before any policy work; the upstream sees nothing.
func TestRedTeamHTTP2HugeHeaderBlock(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, basePolicy, nil)
	tc := tls.Client(connect(t, p, "up.example.com:"+up.port), &tls.Config{ServerName: "up.example.com", RootCAs: bottleRoots(p), NextProtos: []string{"h2"}})
	cc, err := (&http2.Transport{MaxHeaderListSize: 64 << 20}).NewClientConn(tc)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	req := newReq(t, "GET", "https://up.example.com:"+up.port+"/v1/x", nil)
	for i := range 40 {
		req.Header.Set(fmt.Sprintf("X-Pad-%d", i), strings.Repeat("a", 60<<10))
	}
	resp, err := cc.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
	}
	if up.seen.count() != 0 {
		t.Errorf("upstream saw %d requests", up.seen.count())
	}
}

// TestRedTeamH2CRefused: HTTP/2 without TLS is never spoken, neither by
// prior knowledge on the proxy port nor by Upgrade: h2c.
func TestRedTeamH2CRefused(t *testing.T) {
	up := newUpstream(t, false)
	p := startProxy(t, up, "egress:\n  routes:\n    - host: up.example.com\n", nil)
	st, code, _, _ := do(t, p.client(t), newReq(t, "GET", "http://up.example.com:"+up.port+"/x", nil, "Connection", "Upgrade, HTTP2-Settings", "Upgrade", "h2c", "HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA"))
	if st != 403 || code != "upgrade" {
		t.Errorf("Upgrade: h2c: %d %q, want 403 upgrade", st, code)
	}
	tr := &http2.Transport{AllowHTTP: true, DialTLS: func(network, _ string, _ *tls.Config) (net.Conn, error) {
		return net.Dial(network, p.url.Host)
	}}
	_, err := tr.RoundTrip(newReq(t, "GET", "http://up.example.com:"+up.port+"/x", nil))
	if err == nil {
		t.Error("prior-knowledge h2c was served")
	}
	if up.seen.count() != 0 {
		t.Errorf("upstream saw %d requests", up.seen.count())
	}
}
