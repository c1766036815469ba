package probe

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// routeNote says which way the container would send to addr: no route,
// on-link, or through a gateway. It only describes: an outside probe is
// decided by what its attempt reached, never by the routing table (a pod
// has a default route through a live gateway and a packet filter that
// stops the agent before it; Engine 20.10 gives a sealed container a
// default route that leads nowhere).
func routeNote(addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return ""
	}
	routes, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return ""
	}
	gw, ok := nextHop(string(routes), ap.Addr())
	switch {
	case !ok:
		return "no route"
	case !gw.IsValid():
		return "on-link route"
	}
	return "route via " + gw.String()
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
