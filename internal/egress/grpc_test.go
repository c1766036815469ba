package egress

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/policy"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	grpcstatus "google.golang.org/grpc/status"
)

const grpcPolicy = `egress:
  routes:
    - host: up.example.com
      auth: {scheme: Bearer, token_ref: UP_TOKEN}
      dlp: {outbound_on_match: block}
      matches:
        - paths: [{type: prefix, value: /grpc.health.v1.Health/}, {type: prefix, value: /grpc.reflection.v1.ServerReflection/}]
`

// grpcUpstream is a real grpc-go server (health: unary and
// server-streaming; reflection: bidi) behind TLS, recording what it got.
type grpcUpstream struct {
	*upstream
	mu   sync.Mutex
	got  []string
	auth []string
}

func (g *grpcUpstream) record(ctx context.Context, what string) {
	md, _ := metadata.FromIncomingContext(ctx)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.got = append(g.got, what)
	g.auth = append(g.auth, strings.Join(md.Get("authorization"), ","))
}

func (g *grpcUpstream) seenText() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(g.got, "|")
}

func newGRPCUpstream(t testing.TB) *grpcUpstream {
	g := &grpcUpstream{upstream: &upstream{seen: &seen{}}}
	// httptest only for its certificate, the CA file and the port's
	// shape: the server is grpc-go's own HTTP/2 transport (not ServeHTTP),
	// which answers an error with a Trailers-Only response as real
	// servers do.
	g.start(t, http.NotFoundHandler(), true)
	cert := g.srv.TLS.Certificates[0]
	srv := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&cert)),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			g.record(ctx, info.FullMethod+" "+req.(interface{ String() string }).String())
			if r, ok := req.(*healthpb.HealthCheckRequest); ok && r.Service == "fail" {
				return nil, grpcstatus.Error(codes.NotFound, "no service called fail")
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			g.record(ss.Context(), info.FullMethod)
			if _, ok := ss.Context().Deadline(); ok {
				g.record(ss.Context(), "deadline "+info.FullMethod)
			}
			err := h(srv, &recordingStream{ServerStream: ss, g: g})
			g.record(ss.Context(), "ended "+info.FullMethod)
			return err
		}),
	)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	_, g.port, _ = net.SplitHostPort(ln.Addr().String())
	return g
}

// waitFor waits until the upstream recorded what n times (a call that
// ends ends soon; the wait is a bound, not a measurement).
func (g *grpcUpstream) waitFor(t *testing.T, what string, n int) {
	t.Helper()
	for range 200 {
		g.mu.Lock()
		k := 0
		for _, s := range g.got {
			if s == what {
				k++
			}
		}
		g.mu.Unlock()
		if k >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the upstream never recorded %q %d times: %s", what, n, g.seenText())
}

type recordingStream struct {
	grpc.ServerStream
	g *grpcUpstream
}

func (s *recordingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.g.record(s.Context(), m.(interface{ String() string }).String())
	}
	return err
}

// grpcClient is the agent's grpc-go client: it CONNECTs through the proxy
// and trusts only the bottle CA.
func grpcClient(t *testing.T, p *proxy, up *upstream) *grpc.ClientConn {
	t.Helper()
	hp := "up.example.com:" + up.port
	cc, err := grpc.NewClient("passthrough:///"+hp,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{ServerName: "up.example.com", RootCAs: bottleRoots(p)})),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return connect(t, p, hp), nil }),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func grpcCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGRPCThroughProxy(t *testing.T) {
	up := newGRPCUpstream(t)
	p := startProxy(t, up.upstream, grpcPolicy, nil)
	hc := healthpb.NewHealthClient(grpcClient(t, p, up.upstream))
	ctx := grpcCtx(t)
	t.Run("unary", func(t *testing.T) {
		res, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || res.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Check: %v %v", res, err)
		}
		up.mu.Lock()
		auth := up.auth[len(up.auth)-1]
		up.mu.Unlock()
		if auth != "Bearer "+heldToken {
			t.Errorf("upstream saw authorization %q, want the injected token", auth)
		}
	})
	t.Run("status and message from trailers", func(t *testing.T) {
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "fail"})
		if st := grpcstatus.Convert(err); st.Code() != codes.NotFound || st.Message() != "no service called fail" {
			t.Fatalf("agent saw %v, want the upstream's NotFound and message", err)
		}
	})
	t.Run("gzip", func(t *testing.T) {
		if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.UseCompressor(gzip.Name)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("server streaming", func(t *testing.T) {
		w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := w.Recv(); err != nil || res.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Watch: %v %v", res, err)
		}
	})
	t.Run("bidi streaming stays streaming", func(t *testing.T) {
		rc := reflectpb.NewServerReflectionClient(grpcClient(t, p, up.upstream))
		st, err := rc.ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 { // each answer arrives while the request stream is open
			if err := st.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}}); err != nil {
				t.Fatal(err)
			}
			res, err := st.Recv()
			if err != nil || !strings.Contains(res.String(), "grpc.health.v1.Health") {
				t.Fatalf("Recv: %v %v", res, err)
			}
		}
		st.CloseSend()
	})
	t.Run("deadline goes upstream and ends the call there", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		w, err := hc.Watch(dctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Recv(); err != nil {
			t.Fatal(err)
		}
		// The upstream's timer and the agent's race: the health service
		// answers a deadline with Canceled "Stream has ended.".
		if _, err := w.Recv(); grpcstatus.Code(err) != codes.DeadlineExceeded && grpcstatus.Code(err) != codes.Canceled {
			t.Fatalf("agent saw %v, want the call ended by its deadline", err)
		}
		if !strings.Contains(up.seenText(), "deadline /grpc.health.v1.Health/Watch") {
			t.Errorf("the upstream's call had no deadline (grpc-timeout not passed): %s", up.seenText())
		}
		up.waitFor(t, "ended /grpc.health.v1.Health/Watch", 1)
	})
	t.Run("agent cancelling cancels upstream", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		w, err := hc.Watch(cctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Recv(); err != nil {
			t.Fatal(err)
		}
		cancel()
		up.waitFor(t, "ended /grpc.health.v1.Health/Watch", 2)
	})
	t.Run("method outside matches", func(t *testing.T) {
		conn := grpcClient(t, p, up.upstream)
		err := conn.Invoke(ctx, "/other.Service/Method", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
		if grpcstatus.Code(err) != codes.PermissionDenied {
			t.Fatalf("agent saw %v, want PermissionDenied", err)
		}
	})
}

func TestRedTeamGRPCSecretInMessage(t *testing.T) {
	up := newGRPCUpstream(t)
	p := startProxy(t, up.upstream, grpcPolicy, nil)
	cc := grpcClient(t, p, up.upstream)
	hc := healthpb.NewHealthClient(cc)
	ctx := grpcCtx(t)
	for _, opts := range [][]grpc.CallOption{nil, {grpc.UseCompressor(gzip.Name)}} {
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: heldToken}, opts...)
		st := grpcstatus.Convert(err)
		if st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), "dlp") {
			t.Fatalf("agent saw %v, want PermissionDenied (dlp)", err)
		}
		// The status message names the refusal ID the proxy logged, for egress-block.
		id := st.Message()[strings.LastIndex(st.Message(), " ")+1:]
		if !strings.HasPrefix(id, "rf-") || !strings.Contains(p.logText(), `"refusal_id":"`+id+`"`) {
			t.Fatalf("the refusal ID %q of %q is not in the proxy log", id, st.Message())
		}
	}
	// Mid-stream: the clean message goes, the one with the secret ends the call.
	st, err := reflectpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}})
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	st.Send(&reflectpb.ServerReflectionRequest{Host: heldToken, MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}})
	if _, err := st.Recv(); grpcstatus.Code(err) != codes.PermissionDenied {
		t.Fatalf("agent saw %v, want PermissionDenied", err)
	}
	if strings.Contains(up.seenText(), heldToken) {
		t.Errorf("upstream received the secret: %s", up.seenText())
	}
	if log := p.logText(); !strings.Contains(log, `"code":"dlp"`) || strings.Contains(log, heldToken) {
		t.Errorf("log:\n%s", log)
	}
}

// FuzzGRPCScan feeds an agent-controlled request body to the gRPC message
// reader: it never panics, what it releases is whole framed messages of
// what was sent, and it never releases a message holding the held token.
func FuzzGRPCScan(f *testing.F) {
	dir := f.TempDir()
	path := dir + "/policy.yaml"
	writePolicy(f, path, "egress:\n  routes:\n    - host: up.example.com\n      auth: {scheme: Bearer, token_ref: UP_TOKEN}\n", "")
	pol, err := policy.LoadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	st, err := buildState(pol, func(string) string { return heldToken }, nil, true)
	if err != nil {
		f.Fatal(err)
	}
	frame := func(flag byte, b []byte) []byte {
		return append([]byte{flag, byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...)
	}
	f.Add(frame(0, []byte("hello")), "")
	f.Add(append(frame(0, []byte("a")), frame(0, []byte(heldToken))...), "")
	f.Add(frame(1, []byte{0x1f, 0x8b, 8, 0}), "gzip")
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff}, "")
	f.Fuzz(func(t *testing.T, body []byte, coding string) {
		g := &grpcScan{src: bytes.NewReader(body), coding: coding, stream: st.scanners[pol.Routes[0]].NewStream("grpc message"), approved: func(f []dlp.Finding) []dlp.Finding { return f }}
		out, _ := io.ReadAll(g)
		if !bytes.HasPrefix(body, out) {
			t.Fatalf("released bytes that were not sent")
		}
		if bytes.Contains(out, []byte(heldToken)) {
			t.Fatalf("released the held token")
		}
	})
}

// TestGRPCUpstreamResetGivesAStatus: an upstream that resets the stream
// before its trailers gives the agent UNAVAILABLE, a status its client
// can retry on, not a bare stream end that grpc-go calls Internal.
func TestGRPCUpstreamResetGivesAStatus(t *testing.T) {
	up := &upstream{seen: &seen{}}
	up.start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/grpc")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // RST_STREAM, no trailers
	}), true)
	p := startProxy(t, up, grpcPolicy, nil)
	hc := healthpb.NewHealthClient(grpcClient(t, p, up))
	_, err := hc.Check(grpcCtx(t), &healthpb.HealthCheckRequest{})
	if st := grpcstatus.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "without a status") {
		t.Fatalf("agent saw %v, want Unavailable from the proxy", err)
	}
}

func TestGRPCTimeoutHeader(t *testing.T) {
	for v, want := range map[string]time.Duration{"1S": time.Second, "250m": 250 * time.Millisecond, "2H": 2 * time.Hour, "99999999n": 99999999} {
		if d, ok := grpcTimeout(v); !ok || d != want {
			t.Errorf("grpcTimeout(%q) = %v %v, want %v", v, d, ok, want)
		}
	}
	for _, v := range []string{"", "S", "1", "1x", "-1S", "123456789S"} {
		if _, ok := grpcTimeout(v); ok {
			t.Errorf("grpcTimeout(%q) accepted", v)
		}
	}
}
