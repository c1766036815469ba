package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/miekg/dns"
)

// RefusalHeader is the header the egress proxy puts on every refusal
// (internal/egress). A response carrying it was written by the proxy, not
// by anything beyond it.
const RefusalHeader = "X-Bot-Bottle-Refusal"

// IntrospectionURL is the proxy's live route table.
const IntrospectionURL = "http://_egress.local/allowlist"

// proxyConn dials the proxy of s. The connection follows ctx's deadline.
func proxyConn(ctx context.Context, s Spec) (net.Conn, error) {
	u, err := url.Parse(s.Proxy)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bad proxy URL %q", s.Proxy)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(deadline(ctx))
	return c, nil
}

// bufConn is a connection whose first bytes may sit in a bufio.Reader.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// refusal describes a non-2xx answer: the proxy's own refusal or
// something else.
func refusal(resp *http.Response) string {
	if code := resp.Header.Get(RefusalHeader); code != "" {
		return "refused by the proxy (" + code + ")"
	}
	return "proxy answered " + resp.Status
}

// connect sends CONNECT addr to the proxy. A 2xx answer returns the open
// tunnel; anything else returns the answer, closed.
func connect(ctx context.Context, s Spec, addr string) (net.Conn, *http.Response, error) {
	c, err := proxyConn(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if resp.StatusCode/100 != 2 {
		c.Close()
		return nil, resp, nil
	}
	return bufConn{Conn: c, r: br}, resp, nil
}

func probeConnect(ctx context.Context, s Spec) Result {
	c, resp, err := connect(ctx, s, s.Addr)
	if err != nil {
		return closed("proxy unreachable or silent (" + short(err) + ")")
	}
	if c == nil {
		return closed(refusal(resp))
	}
	c.Close()
	return leaked("tunnel opened (" + resp.Status + ")")
}

func probeProxyGet(ctx context.Context, s Spec) Result {
	c, err := proxyConn(ctx, s)
	if err != nil {
		return closed("proxy unreachable (" + short(err) + ")")
	}
	defer c.Close()
	u, err := url.Parse(s.URL)
	if err != nil {
		return failed(err.Error())
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", s.URL, u.Host)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return closed("no answer (" + short(err) + ")")
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 && resp.Header.Get(RefusalHeader) == "" {
		return leaked("forwarded (" + resp.Status + ")")
	}
	return closed(refusal(resp))
}

// tunnelRequest opens a TLS tunnel to addr (SNI sni) through the proxy and
// sends raw, one HTTP request, inside it. It returns the answer, or a
// Result when it never got that far.
func tunnelRequest(ctx context.Context, s Spec, addr, sni string, raw []byte) (*http.Response, *Result) {
	c, resp, err := connect(ctx, s, addr)
	if err != nil {
		r := closed("proxy unreachable or silent (" + short(err) + ")")
		return nil, &r
	}
	if c == nil {
		r := closed(refusal(resp))
		return nil, &r
	}
	// The probes test where bytes go, not whom they reach: any certificate
	// will do, the bottle CA's included.
	tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err := tc.HandshakeContext(ctx); err != nil {
		tc.Close()
		r := closed("tunnel opened, TLS refused (" + short(err) + ")")
		return nil, &r
	}
	go func() { <-ctx.Done(); tc.Close() }()
	if _, err := tc.Write(raw); err != nil {
		tc.Close()
		r := closed("tunnel closed (" + short(err) + ")")
		return nil, &r
	}
	resp, err = http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		tc.Close()
		r := closed("tunnel closed without an answer (" + short(err) + ")")
		return nil, &r
	}
	return resp, nil
}

func probeDoH(ctx context.Context, s Spec) Result {
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" {
		return failed(fmt.Sprintf("bad DoH URL %q", s.URL))
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(s.Name), dns.TypeA)
	m.Id = 0 // RFC 8484 asks for 0
	wire, err := m.Pack()
	if err != nil {
		return failed(err.Error())
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	path := u.EscapedPath() + "?dns=" + base64.RawURLEncoding.EncodeToString(wire)
	raw := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/dns-message\r\nConnection: close\r\n\r\n", path, u.Host)
	resp, r := tunnelRequest(ctx, s, addr, u.Hostname(), []byte(raw))
	if r != nil {
		return *r
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return closed(refusal(resp))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var in dns.Msg
	if in.Unpack(body) == nil && in.Response {
		return leaked("DNS answer received (" + dns.RcodeToString[in.Rcode] + ")")
	}
	if resp.Header.Get(RefusalHeader) != "" {
		return closed(refusal(resp))
	}
	return leaked("forwarded (" + resp.Status + ")")
}

// allowedHost is the first plain host in the proxy's live route table, or
// "" when it allows none.
func allowedHost(ctx context.Context, s Spec) (string, error) {
	c, err := proxyConn(ctx, s)
	if err != nil {
		return "", err
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: _egress.local\r\nConnection: close\r\n\r\n", IntrospectionURL)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("allowlist: %s", resp.Status)
	}
	var table struct {
		Routes []struct {
			Host string `json:"host"`
		} `json:"routes"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&table); err != nil {
		return "", fmt.Errorf("allowlist: %w", err)
	}
	for _, r := range table.Routes {
		if r.Host != "" && !strings.ContainsAny(r.Host, "*/ ") {
			return r.Host, nil
		}
	}
	return "", nil
}

// throughAllowed resolves the allowed host to tunnel through: s.Via when
// given, else the proxy's route table.
func throughAllowed(ctx context.Context, s Spec) (string, *Result) {
	host := s.Via
	if host == "" {
		h, err := allowedHost(ctx, s)
		if err != nil {
			r := closed("proxy unreachable, nothing to tunnel through (" + short(err) + ")")
			r.NotApplicable = true
			return "", &r
		}
		host = h
	}
	if host == "" {
		return "", &Result{Got: "the bottle allows no host to tunnel through", NotApplicable: true}
	}
	return host, nil
}

// forwarded is the verdict on an answer to a request the proxy must not
// forward: its own refusal is closed, anything else got past it.
func forwarded(resp *http.Response) Result {
	defer resp.Body.Close()
	if code := resp.Header.Get(RefusalHeader); code != "" {
		return closed("refused by the proxy (" + code + ")")
	}
	return leaked("forwarded (" + resp.Status + ")")
}

func probeHostSNI(ctx context.Context, s Spec) Result {
	return throughTunnel(ctx, s, fmt.Sprintf("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", s.Name))
}

func probeRelay(ctx context.Context, s Spec) Result {
	return throughTunnel(ctx, s, fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", s.Addr, s.Addr))
}

// throughTunnel sends raw inside a TLS tunnel to an allowed host: a
// request the proxy must refuse itself.
func throughTunnel(ctx context.Context, s Spec, raw string) Result {
	host, r := throughAllowed(ctx, s)
	if r != nil {
		return *r
	}
	resp, r := tunnelRequest(ctx, s, net.JoinHostPort(host, "443"), host, []byte(raw))
	if r != nil {
		return *r
	}
	res := forwarded(resp)
	res.Got = "via " + host + ": " + res.Got
	return res
}
