package egress

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/policy"
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
	u := "https://up.example.com:" + up.port + "/bench"
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
	u := "https://up.example.com:" + up.port + "/bench"
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

// BenchmarkResponse1MiB is bench/egress's "1 MiB response": the response
// is scanned for prompt injection and checked for the token's echo.
func BenchmarkResponse1MiB(b *testing.B) {
	up, c := benchProxy(b, "egress:\n  routes:\n    - host: up.example.com\n      auth: {scheme: Bearer, token_ref: UP_TOKEN}\n      dlp: {outbound_on_match: block}\n")
	u := "https://up.example.com:" + up.port + "/bench/big"
	b.SetBytes(int64(len(benchBig)))
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get(u)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n != int64(len(benchBig)) {
				b.Errorf("status %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
}

// BenchmarkScan64KiB is the outbound scan alone, with the detectors a
// default route uses (token_patterns, known_secrets) on clean prompt text.
func BenchmarkScan64KiB(b *testing.B) {
	pol, err := policy.Compile(&manifest.Egress{Routes: []manifest.Route{{Host: "api.example.com", Auth: &manifest.Auth{Scheme: "Bearer", TokenRef: "T"}}}})
	if err != nil {
		b.Fatal(err)
	}
	st, err := buildState(pol, func(string) string { return "held-token-value-0123456789abcdef" }, nil, true)
	if err != nil {
		b.Fatal(err)
	}
	o := st.scanners[pol.Routes[0]]
	line := "Please refactor the loader so it returns an error instead of panicking; keep the API.\n"
	body := []byte(strings.Repeat(line, 64<<10/len(line)+1)[:64<<10])
	u, _ := url.Parse("https://api.example.com/v1/messages")
	h := http.Header{"Content-Type": {"text/plain"}, "Authorization": {"Bearer placeholder"}}
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		res, err := o.Scan(dlp.Request{Method: "POST", URL: u, Header: h, Body: body})
		if err != nil || len(res.Findings) > 0 {
			b.Fatalf("%v %+v", err, res.Findings)
		}
	}
}

// BenchmarkInjectAuth is the per-request cost of stripping the agent's
// credentials and placing the token (a typical SDK request's headers),
// for each placement.
func BenchmarkInjectAuth(b *testing.B) {
	for _, a := range []*policy.Auth{
		{Placement: manifest.PlaceScheme, Scheme: "Bearer"},
		{Placement: manifest.PlaceHeader, Header: "X-Api-Key"},
		{Placement: manifest.PlaceBasic, BasicUser: "x-access-token"},
		{Placement: manifest.PlaceQuery, Query: "key"},
		{Placement: manifest.PlacePlaceholder, Placeholder: "NPM_TOKEN"},
	} {
		b.Run(a.Placement, func(b *testing.B) {
			h := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}, "User-Agent": {"sdk/1.0"},
				"Anthropic-Version": {"2023-06-01"}, "X-Stainless-Lang": {"js"}, "Authorization": {"Bearer " + testSentinel}}
			for b.Loop() {
				out := &http.Request{Header: h.Clone(), URL: &url.URL{Path: "/v1/messages", RawQuery: "page=2&key=x&beta=true"}}
				injectAuth(out, a, upToken, testSentinel, true)
			}
		})
	}
}
