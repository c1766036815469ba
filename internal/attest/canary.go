package attest

import (
	"net"
	"net/netip"
	"sync"
)

// canary listens on every host address, as a careless local service does,
// so a probe that reaches the host has something to connect to, and the
// host sees the connection itself rather than trusting the probe's word.
type canary struct {
	ln   net.Listener
	from map[netip.Addr]bool // only connections from these count ("": all)
	mu   sync.Mutex
	seen []heard
	done chan struct{}
}

// heard is one connection the canary accepted: from the agent's address
// to the host address it dialled.
type heard struct {
	from, to netip.Addr
}

func startCanary(from []netip.Addr) (*canary, error) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		return nil, err
	}
	c := &canary{ln: ln, done: make(chan struct{})}
	if len(from) > 0 {
		c.from = map[netip.Addr]bool{}
		for _, a := range from {
			c.from[a.Unmap()] = true
		}
	}
	go c.serve()
	return c, nil
}

func (c *canary) port() int { return c.ln.Addr().(*net.TCPAddr).Port }

func (c *canary) serve() {
	defer close(c.done)
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		from, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
		to, _ := netip.ParseAddrPort(conn.LocalAddr().String())
		conn.Close()
		if c.from != nil && !c.from[from.Addr().Unmap()] {
			continue
		}
		c.mu.Lock()
		c.seen = append(c.seen, heard{from: from.Addr().Unmap(), to: to.Addr().Unmap()})
		c.mu.Unlock()
	}
}

// stop closes the listener and returns the connections it heard.
func (c *canary) stop() []heard {
	c.ln.Close()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen
}
