package probe

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

func leaked(got string) Result { return Result{Leaked: true, Got: got} }
func closed(got string) Result { return Result{Got: got} }
func failed(got string) Result { return Result{Failed: true, Got: got} }

// short drops the "dial tcp 1.2.3.4:5:" prefix Go puts on network errors:
// the table already names the target.
func short(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return "timed out"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		s := op.Err.Error()
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			s = sys.Err.Error()
		}
		return s
	}
	return err.Error()
}

// outside adds to a closed result which way the attempt to an address
// outside the bottle went. The verdict is the attempt's: a connection
// accepted or any answer is the leak; a refusal (the pod wall's REJECT) or
// silence (a route that leads nowhere) is closed.
func outside(r Result, s Spec, addr string) Result {
	if !s.Outside || r.Leaked {
		return r
	}
	if n := routeNote(addr); n != "" {
		r.Got += "; " + n
	}
	return r
}

func probeTCP(ctx context.Context, s Spec) Result {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", s.Addr)
	if err == nil {
		c.Close()
		return leaked("connected")
	}
	return outside(closed(short(err)), s, s.Addr)
}

func probeUDP(ctx context.Context, s Spec) Result {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", s.Addr)
	if err != nil {
		return outside(closed(short(err)), s, s.Addr)
	}
	defer c.Close()
	c.SetDeadline(deadline(ctx))
	// A QUIC-sized datagram that no server will take for a real handshake.
	payload := make([]byte, 1200)
	payload[0] = 0xc0
	if _, err := c.Write(payload); err != nil {
		return outside(closed(short(err)), s, s.Addr)
	}
	_, err = c.Read(make([]byte, 64))
	if err == nil {
		return leaked("answered")
	}
	got := "no answer"
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		got = "no answer (" + short(err) + ")"
	}
	return outside(closed(got), s, s.Addr)
}

// resolvConf is the first nameserver of /etc/resolv.conf, as host:53.
func resolvConf() (string, error) {
	f, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			return net.JoinHostPort(fields[1], "53"), nil
		}
	}
	return "", errors.New("no nameserver in /etc/resolv.conf")
}

func probeDNS(ctx context.Context, s Spec) Result {
	addr := s.Addr
	if addr == "resolv.conf" {
		a, err := resolvConf()
		if err != nil {
			return failed(err.Error())
		}
		addr = a
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(s.Name), dns.TypeA)
	c := &dns.Client{Net: s.Net, Timeout: time.Until(deadline(ctx))}
	in, _, err := c.ExchangeContext(ctx, m, addr)
	if err != nil {
		return outside(closed(short(err)), s, addr)
	}
	rcode := dns.RcodeToString[in.Rcode]
	if in.Rcode == dns.RcodeSuccess && len(in.Answer) > 0 {
		return leaked("answered " + firstRR(in.Answer))
	}
	if s.Outside {
		// An outside resolver must not answer at all: even a refusal
		// came back from beyond the bottle.
		return leaked("answered " + rcode)
	}
	return closed("answered " + rcode + ", no records")
}

func firstRR(rrs []dns.RR) string {
	if a, ok := rrs[0].(*dns.A); ok {
		return a.A.String()
	}
	return dns.TypeToString[rrs[0].Header().Rrtype]
}

func deadline(ctx context.Context) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return time.Now().Add(DefaultTimeout)
}

func probeIPv6() Result {
	ifs, err := net.InterfaceAddrs()
	if err != nil {
		return failed(err.Error())
	}
	var addrs []string
	for _, a := range ifs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.To4() != nil || n.IP.IsLoopback() {
			continue
		}
		addrs = append(addrs, n.IP.String())
	}
	if len(addrs) == 0 {
		return Result{Got: "no IPv6 address", NotApplicable: true}
	}
	return Result{Got: "IPv6 addresses: " + strings.Join(addrs, ", "), Addrs: addrs}
}
