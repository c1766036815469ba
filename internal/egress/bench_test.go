package egress

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// The benchmarks run the proxy in-process against a real TLS upstream on
// loopback, log level 1 to a discarding logger. bench/egress/run.sh
// compares the proxy with mitmproxy and a direct connection.

func benchProxy(b *testing.B, policySrc string) (*upstream, *http.Client) {
	up := newUpstream(b, true)
	p := startProxy(b, up, policySrc, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	c := p.client(b)
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	return up, c
}

func BenchmarkSmallKeepAlive(b *testing.B) {
	up, c := benchProxy(b, "egress:\n  routes:\n    - host: up.example.com\n      auth: {scheme: Bearer, token_ref: UP_TOKEN}\n")
	u := "https://up.example.com:" + up.port + "/v1/x"
	b.SetParallelism(4) // 8 clients on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get(u)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

func BenchmarkPOST64KiBWithDLP(b *testing.B) {
	up, c := benchProxy(b, "egress:\n  routes:\n    - host: up.example.com\n      auth: {scheme: Bearer, token_ref: UP_TOKEN}\n      dlp: {outbound_on_match: block}\n")
	u := "https://up.example.com:" + up.port + "/v1/x"
	line := "Please refactor the loader so it returns an error instead of panicking; keep the API.\n"
	body := strings.Repeat(line, 64<<10/len(line)+1)[:64<<10]
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Post(u, "text/plain", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
