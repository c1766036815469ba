package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// refusalError is a refusal found while dialing (a private address, a name
// that does not resolve). It carries the code the agent sees.
type refusalError struct {
	code   policy.Code
	reason string
}

func (e *refusalError) Error() string { return e.reason }

// blockedPrefixes are never dialed unless private ranges are allowed:
// private, loopback, link-local (cloud metadata lives at 169.254.169.254
// and fd00:ec2::254), CGNAT, reserved, and the IPv6 forms that embed an
// IPv4 address (NAT64, 6to4, Teredo, IPv4-compatible), which could smuggle
// any of the others.
var blockedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/96", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
		"2001::/32", "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "ff00::/8",
		"::ffff:0:0:0/96", "fec0::/10", // IPv4-translated (SIIT), deprecated site-local
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// isPrivate reports whether ip must not be dialed without an unsafe
// allowance.
func isPrivate(ip netip.Addr) bool {
	if ip.Is4In6() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// dial resolves host once, checks every address, and dials a checked one:
// the address the policy allowed is the address connected to.
func (s *Server) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	allowPrivate := s.cfg.UnsafeAllowPrivateRanges || s.state.Load().pol.AllowsPrivate(host)
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		ips, err := s.resolver.LookupIPAddr(ctx, host)
		if err != nil || len(ips) == 0 {
			return nil, &refusalError{policy.CodeResolve, fmt.Sprintf("%s does not resolve", host)}
		}
		for _, ip := range ips {
			a, ok := netip.AddrFromSlice(ip.IP)
			if ok {
				addrs = append(addrs, a.Unmap())
			}
		}
	}
	if !allowPrivate {
		for _, a := range addrs {
			if isPrivate(a) {
				return nil, &refusalError{policy.CodePrivate, fmt.Sprintf("%s resolves to %s, a private, loopback, link-local or reserved address (a route may say unsafe_allow_private: true)", host, a)}
			}
		}
	}
	var d net.Dialer
	var lastErr error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), portStr))
		if err == nil {
			if isPrivate(a) && !s.cfg.UnsafeAllowPrivateRanges {
				c = &privateConn{Conn: c, s: s, host: host}
			}
			return c, nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = errors.New("no addresses")
	}
	return nil, fmt.Errorf("dialing %s: %w", addr, lastErr)
}

// dialTLS dials like dial and verifies the upstream against the system
// roots plus the extra CA, offering h2 so the transport can use HTTP/2.
func (s *Server) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	return s.dialTLSOffering(ctx, network, addr, "h2", "http/1.1")
}

// dialTLSHTTP1 is dialTLS offering only http/1.1: a WebSocket handshake
// is an HTTP/1.1 Upgrade.
func (s *Server) dialTLSHTTP1(ctx context.Context, network, addr string) (net.Conn, error) {
	return s.dialTLSOffering(ctx, network, addr, "http/1.1")
}

func (s *Server) dialTLSOffering(ctx context.Context, network, addr string, protos ...string) (net.Conn, error) {
	raw, err := s.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	tc := tls.Client(raw, &tls.Config{
		ServerName:         host,
		RootCAs:            s.roots,
		NextProtos:         protos,
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: s.sessions,
	})
	hctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// privateConn is a connection to a private address that a route's
// unsafe_allow_private let through. A pooled connection outlives a policy
// reload; once no route allows the host any more it carries no further
// request, so the next one is dialed (and checked) afresh.
type privateConn struct {
	net.Conn
	s    *Server
	host string
}

func (c *privateConn) Write(b []byte) (int, error) {
	if !c.s.state.Load().pol.AllowsPrivate(c.host) {
		c.Conn.Close()
		return 0, &refusalError{policy.CodePrivate, fmt.Sprintf("%s is a private address and no route allows it any more (unsafe_allow_private)", c.host)}
	}
	return c.Conn.Write(b)
}
