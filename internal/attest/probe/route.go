package probe

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
)

// routeOut reports whether the container can send to addr beyond its own
// network: a route exists and its next hop answers. It finds out without
// sending anything to addr. Engine 20.10 gives a container on an internal
// network a default route through the network's gateway even when the
// bridge holds no address (inhibit_ipv4); that gateway never answers, so
// nothing leaves. Where the tables cannot be read the route alone counts:
// fail closed.
func routeOut(parent context.Context, addr string) (bool, string) {
	// The probe's own deadline may be spent waiting for an answer: this
	// check gets a short budget of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), 500*time.Millisecond)
	defer cancel()
	if err := route(ctx, addr); err != nil {
		return false, "no route (" + short(err) + ")"
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return true, "a route out exists"
	}
	if ap.Addr().IsLoopback() {
		return true, "the address is the container's own loopback"
	}
	routes, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return true, "a route out exists (routing table unreadable: " + err.Error() + ")"
	}
	gw, ok := nextHop(string(routes), ap.Addr())
	if !ok {
		return true, "a route out exists"
	}
	if !gw.IsValid() {
		return true, "the address is on a network the container is on"
	}
	// Knock on the gateway itself (the discard port): that makes the
	// kernel ask for the next hop, and a reset or an accept is an answer
	// where the neighbour table is a stub (gVisor). The outside address is
	// never sent to over a route that may lead somewhere.
	knocked := make(chan bool, 1)
	go func() {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(gw.String(), "9"))
		if err == nil {
			c.Close()
		}
		knocked <- err == nil || errors.Is(err, syscall.ECONNREFUSED)
	}()
	live := fmt.Sprintf("a route out exists via %s, which answers", gw)
	dead := fmt.Sprintf("the route via %s leads nowhere (no neighbour answers)", gw)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		arp, err := os.ReadFile("/proc/net/arp")
		if err != nil {
			return true, fmt.Sprintf("a route out exists via %s (neighbour table unreadable)", gw)
		}
		if neighbourUp(string(arp), gw) {
			return true, live
		}
		select {
		case answered := <-knocked:
			if answered {
				return true, live
			}
			knocked = nil // the knock failed: the neighbour table decides
		case <-ctx.Done():
			return false, dead
		case <-tick.C:
		}
	}
}

// nextHop finds the longest-prefix route to dst in /proc/net/route and
// returns its gateway (invalid: on-link). ok is false when no route
// matches.
func nextHop(table string, dst netip.Addr) (gw netip.Addr, ok bool) {
	best := -1
	sc := bufio.NewScanner(strings.NewReader(table))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		d, e1 := hexAddr(f[1])
		g, e2 := hexAddr(f[2])
		m, e3 := hexAddr(f[7])
		if e1 != nil || e2 != nil || e3 != nil {
			continue
		}
		bits := 0
		for _, b := range m.As4() {
			for ; b&0x80 != 0; b <<= 1 {
				bits++
			}
		}
		pfx, err := d.Prefix(bits)
		if err != nil || !pfx.Contains(dst) || bits <= best {
			continue
		}
		best, ok = bits, true
		gw = netip.Addr{}
		if !g.IsUnspecified() {
			gw = g
		}
	}
	return gw, ok
}

// hexAddr reads an IPv4 address as /proc/net/route writes it: host-order
// hex, which is little-endian on every platform bot-bottle runs on.
func hexAddr(s string) (netip.Addr, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return netip.Addr{}, fmt.Errorf("bad address %q", s)
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], binary.LittleEndian.Uint32(b))
	return netip.AddrFrom4(a), nil
}

// neighbourUp reports whether /proc/net/arp has a complete entry for ip.
func neighbourUp(table string, ip netip.Addr) bool {
	sc := bufio.NewScanner(strings.NewReader(table))
	sc.Scan()
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[0] != ip.String() {
			continue
		}
		var flags int
		fmt.Sscanf(f[2], "0x%x", &flags)
		mac, err := net.ParseMAC(f[3])
		if flags&0x2 != 0 && err == nil && mac.String() != "00:00:00:00:00:00" {
			return true
		}
	}
	return false
}
