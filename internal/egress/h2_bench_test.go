package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// BenchmarkGRPCUnary is one health Check at a time, directly and through
// the proxy (token injected, the request message scanned), in one run.
func BenchmarkGRPCUnary(b *testing.B) {
	up := newGRPCUpstream(b)
	p := startProxy(b, up.upstream, grpcPolicy, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	roots := x509.NewCertPool()
	roots.AddCert(up.srv.Certificate())
	hp := "up.example.com:" + up.port
	for _, via := range []struct {
		name  string
		roots *x509.CertPool
		dial  func(context.Context, string) (net.Conn, error)
	}{
		{"direct", roots, func(ctx context.Context, _ string) (net.Conn, error) { return net.Dial("tcp", "127.0.0.1:"+up.port) }},
		{"proxy", bottleRoots(p), func(ctx context.Context, _ string) (net.Conn, error) { return connect(b, p, hp), nil }},
	} {
		b.Run(via.name, func(b *testing.B) {
			cc, err := grpc.NewClient("passthrough:///"+hp,
				grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{ServerName: "up.example.com", RootCAs: via.roots})),
				grpc.WithContextDialer(via.dial))
			if err != nil {
				b.Fatal(err)
			}
			defer cc.Close()
			hc := healthpb.NewHealthClient(cc)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkH2SmallGET is one small GET at a time over HTTP/2, directly
// and through the proxy (policy, token injection, inbound scan).
func BenchmarkH2SmallGET(b *testing.B) {
	up := newUpstream(b, true)
	p := startProxy(b, up, basePolicy, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	roots := x509.NewCertPool()
	roots.AddCert(up.srv.Certificate())
	direct := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "up.example.com"},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return net.Dial(network, "127.0.0.1:"+up.port)
		}}}
	for _, via := range []struct {
		name string
		c    *http.Client
	}{{"direct", direct}, {"proxy", p.h2Client(b)}} {
		b.Run(via.name, func(b *testing.B) {
			u := "https://up.example.com:" + up.port + "/bench"
			for range b.N {
				resp, err := via.c.Do(newReq(b, "GET", u, nil))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.ProtoMajor != 2 {
					b.Fatalf("%s", resp.Proto)
				}
			}
		})
	}
}
