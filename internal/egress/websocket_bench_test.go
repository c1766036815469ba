package egress

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// BenchmarkWebSocketEcho sends a message and reads its echo, one at a
// time, directly to the upstream and through the proxy (the route scans
// every message with the default outbound detectors and every echo with
// the injection detector), in one run. ns/op is one round trip; MB/s
// counts the bytes sent.
func BenchmarkWebSocketEcho(b *testing.B) {
	up := newWSUpstream(b)
	p := startProxy(b, up.upstream, wsPolicy, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	direct := func(b *testing.B) *websocket.Conn {
		roots := x509.NewCertPool()
		roots.AddCert(up.srv.Certificate())
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		c, _, err := websocket.Dial(context.Background(), "wss://127.0.0.1:"+up.port+"/ws/bench", &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	proxied := func(b *testing.B) *websocket.Conn {
		c, _, err := dialWS(b, p, "wss://up.example.com:"+up.port+"/ws/bench", nil)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	text := []byte(strings.Repeat("Summarise the diff and suggest a commit message. ", 1<<15/50))
	for _, size := range []int{1 << 10, 16 << 10} {
		msg := bytes.Clone(text[:size])
		for _, via := range []struct {
			name string
			dial func(*testing.B) *websocket.Conn
		}{{"direct", direct}, {"proxy", proxied}} {
			b.Run(via.name+"/"+byteSize(size), func(b *testing.B) {
				c := via.dial(b)
				defer c.CloseNow()
				c.SetReadLimit(-1)
				ctx := context.Background()
				b.SetBytes(int64(size))
				b.ResetTimer()
				for range b.N {
					if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
						b.Fatal(err)
					}
					if _, _, err := c.Read(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func byteSize(n int) string { return strconv.Itoa(n>>10) + "KiB" }
