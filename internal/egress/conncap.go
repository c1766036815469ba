package egress

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// CodeTooManyConnections refuses a connection over Config.MaxConns.
const CodeTooManyConnections policy.Code = "too-many-connections"

// connCap counts the agents' open connections and refuses one over the
// cap at once: answered with a 503 that says why, then closed. A
// connection is never queued waiting for another to close.
type connCap struct {
	max  int64
	open atomic.Int64
	// refusing bounds the goroutines answering refused connections; past
	// it a refused connection is closed without an answer.
	refusing chan struct{}
	log      *slog.Logger
}

func newConnCap(max int, log *slog.Logger) *connCap {
	return &connCap{max: int64(max), refusing: make(chan struct{}, 16), log: log}
}

// admit counts c in, or refuses it (false) when the cap is reached.
func (k *connCap) admit(c net.Conn) (net.Conn, bool) {
	if k.open.Add(1) > k.max {
		k.open.Add(-1)
		k.refuse(c)
		return nil, false
	}
	return &countedConn{Conn: c, k: k}, true
}

func (k *connCap) refuse(c net.Conn) {
	reason := fmt.Sprintf("the proxy already holds %d connections from this bottle, the most it takes (--max-connections); close idle ones or reuse them", k.max)
	select {
	case k.refusing <- struct{}{}:
	default:
		c.Close() // a flood: neither answered nor logged, one by one
		return
	}
	k.log.LogAttrs(context.Background(), slog.LevelWarn, "egress",
		slog.String("decision", "refuse"), slog.String("code", string(CodeTooManyConnections)),
		slog.String("reason", reason), slog.String("remote", c.RemoteAddr().String()), slog.Int("status", 503))
	go func() {
		defer func() { <-k.refusing }()
		body := "bot-bottle egress refused the connection\nreason (" + string(CodeTooManyConnections) + "): " + reason + "\n"
		c.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(c, "HTTP/1.1 503 bot-bottle egress refused (%s): %s\r\n%s: %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			CodeTooManyConnections, reason, RefusalHeader, CodeTooManyConnections, len(body), body)
		// Read what the agent sent before closing, so the close is a FIN
		// the agent reads the answer before, not a reset that loses it.
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
			var buf [512]byte
			for {
				if _, err := c.Read(buf[:]); err != nil {
					break
				}
			}
		}
		c.Close()
	}()
}

// countedConn leaves the count when closed, once.
type countedConn struct {
	net.Conn
	k    *connCap
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.k.open.Add(-1) })
	return err
}
