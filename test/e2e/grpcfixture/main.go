// Command grpcfixture is the gRPC end of the e2e tests, built static on
// the host and copied in: a grpc-go server (the test's internet) and the
// agent's grpc-go client, which finds the proxy through HTTPS_PROXY and
// trusts the bottle CA through the system store, as any agent's would.
//
//	grpcfixture serve ADDR CERT KEY  health (unary, server-streaming) and
//	                                 reflection (bidi) over TLS
//	grpcfixture client HOST:PORT     one line per call: what it got
//
// GRPCFIXTURE_CONNECT=ADDR makes the client CONNECT through the proxy at
// ADDR itself (for a name such as localhost, which Go's HTTPS_PROXY
// handling never proxies).
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

func main() {
	switch {
	case len(os.Args) == 5 && os.Args[1] == "serve":
		if err := serve(os.Args[2], os.Args[3], os.Args[4]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case len(os.Args) == 3 && os.Args[1] == "client":
		client(os.Args[2])
	default:
		fmt.Fprintln(os.Stderr, "usage: grpcfixture serve ADDR CERT KEY | client HOST:PORT")
		os.Exit(2)
	}
}

// leaked is set once any request message held "ghp_" (the test's secret
// shape); the call for service "leak-check" reports it.
var leaked atomic.Bool

func serve(addr, cert, key string) error {
	creds, err := credentials.NewServerTLSFromFile(cert, key)
	if err != nil {
		return err
	}
	srv := grpc.NewServer(grpc.Creds(creds),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			sum := sha256.Sum256([]byte(strings.Join(md.Get("authorization"), ",")))
			grpc.SetTrailer(ctx, metadata.Pairs("auth-sha256", fmt.Sprintf("%x", sum)))
			note(req)
			switch req.(*healthpb.HealthCheckRequest).Service {
			case "fail":
				return nil, status.Error(codes.NotFound, "no service called fail")
			case "leak-check":
				if leaked.Load() {
					return nil, status.Error(codes.DataLoss, "a secret arrived")
				}
				return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return h(srv, noting{ss})
		}),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("serving grpc")
	return srv.Serve(ln)
}

func note(m any) {
	if s, ok := m.(fmt.Stringer); ok && strings.Contains(s.String(), "ghp_") {
		leaked.Store(true)
	}
}

type noting struct{ grpc.ServerStream }

func (n noting) RecvMsg(m any) error {
	err := n.ServerStream.RecvMsg(m)
	if err == nil {
		note(m)
	}
	return err
}

// client runs each kind of call once and prints one line for each.
func client(target string) {
	scheme, opts := "dns:///", []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{}))}
	if proxy := os.Getenv("GRPCFIXTURE_CONNECT"); proxy != "" {
		scheme, opts = "passthrough:///", append(opts, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return connectVia(ctx, proxy, addr)
		}))
	}
	cc, err := grpc.NewClient(scheme+target, opts...)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(cc)

	var tr metadata.MD
	res, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Trailer(&tr))
	fmt.Printf("unary: %v %v auth-sha256=%s\n", res.GetStatus(), status.Code(err), strings.Join(tr.Get("auth-sha256"), ","))
	res, err = hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.UseCompressor(gzip.Name))
	fmt.Printf("gzip: %v %v\n", res.GetStatus(), status.Code(err))
	_, err = hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "fail"})
	fmt.Printf("trailers: %v %q\n", status.Code(err), status.Convert(err).Message())

	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err == nil {
		res, err = w.Recv()
	}
	fmt.Printf("server-streaming: %v %v\n", res.GetStatus(), status.Code(err))

	fmt.Printf("bidi: %s\n", bidi(ctx, cc))
	err = cc.Invoke(ctx, "/other.Service/Method", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
	fmt.Printf("outside-matches: %v\n", status.Code(err))

	secret := "ghp_" + strings.Repeat("Zq9Xw8Vu7T", 4)[:36]
	_, err = hc.Check(ctx, &healthpb.HealthCheckRequest{Service: secret}, grpc.UseCompressor(gzip.Name))
	fmt.Printf("secret: %v %q\n", status.Code(err), status.Convert(err).Message())
	_, err = hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "leak-check"})
	fmt.Printf("leak-check: %v\n", status.Code(err))
}

// connectVia opens a tunnel to addr through the HTTP proxy at proxy.
func connectVia(ctx context.Context, proxy, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", proxy)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err == nil && (resp.StatusCode != http.StatusOK || br.Buffered() > 0) {
		err = fmt.Errorf("the proxy answered %s", resp.Status)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("CONNECT %s: %w", addr, err)
	}
	return c, nil
}

// bidi sends three reflection requests on one stream, each answered
// before the next is sent: the stream is not buffered whole.
func bidi(ctx context.Context, cc *grpc.ClientConn) string {
	st, err := reflectpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		return err.Error()
	}
	n := 0
	for range 3 {
		if err := st.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}}); err != nil {
			return err.Error()
		}
		res, err := st.Recv()
		if err != nil {
			return err.Error()
		}
		if strings.Contains(res.String(), "grpc.health.v1.Health") {
			n++
		}
	}
	st.CloseSend()
	return fmt.Sprintf("%d answers while open", n)
}
