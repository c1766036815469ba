package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// TestGRPCThroughABottle: a grpc-go client in a real bottle calls a
// grpc-go server on the stand-in internet through the sidecar (HTTP/2 to
// the MITM, found through HTTPS_PROXY): unary, gzip, trailers, server
// streaming and bidi work with the token injected, a method outside the
// route's matches and a message holding a secret are refused, and the
// secret never reaches the server.
func TestGRPCThroughABottle(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	home := t.TempDir()
	netName := "bot-bottle-test-" + harness.Slug("grpc")
	if _, err := e.eng.NetworkCreate(ctx, netName, client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{"bot-bottle.test": "1"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.eng.NetworkRemove(context.Background(), netName, client.NetworkRemoveOptions{}) })
	testCA := harness.NewTestCA(t)
	bin, err := os.ReadFile(harness.BuildStatic(t, "./test/e2e/grpcfixture"))
	if err != nil {
		t.Fatal(err)
	}
	srvDir := testCA.Leaf(t, "grpc.e2e.test")
	binDir := t.TempDir()
	os.Chmod(binDir, 0o755)
	for _, dir := range []string{srvDir, binDir} {
		if err := os.WriteFile(filepath.Join(dir, "grpcfixture"), bin, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	harness.RunOn(t, e.eng, harness.Base(t, e.eng), netName, "grpc.e2e.test", srvDir, "/srv/grpcfixture", "serve", ":443", "/srv/cert.pem", "/srv/key.pem")

	writeFile(t, filepath.Join(home, ".bot-bottle", "bottles", "grpc.md"), `---
egress:
  routes:
    - host: grpc.e2e.test
      auth: {scheme: Bearer, token_ref: E2E_TOKEN}
      dlp: {outbound_on_match: block}
      matches:
        - paths: [{type: prefix, value: /grpc.health.v1.Health/}, {type: prefix, value: /grpc.reflection.v1.ServerReflection/}]
      unsafe_allow_private: true
---
The gRPC bottle.
`)
	writeFile(t, filepath.Join(home, ".bot-bottle", "agents", "grpc.md"), "---\nbottle: grpc\n---\nThe gRPC agent.\n")
	res, err := manifest.Load(home, home).Resolve("grpc", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Make(plan.Input{Resolved: res, EnvSet: map[string]bool{"E2E_TOKEN": true}, Slug: harness.Slug("grpc"), Rand: rand.Reader,
		StateRoot: filepath.Join(home, ".bot-bottle", "state")})
	if err != nil {
		t.Fatal(err)
	}
	p.Mounts = append(p.Mounts,
		plan.Mount{Container: backend.RoleSidecar, Source: testCA.Dir, Target: "/run/e2e-ca", ReadOnly: true},
		plan.Mount{Container: backend.RoleAgent, Source: binDir, Target: "/opt/e2e-grpc", ReadOnly: true})
	p.SidecarEnv["SSL_CERT_FILE"] = "/run/e2e-ca/ca.pem"
	if err := lifecycle.Prepare(p, makeCA); err != nil {
		t.Fatal(err)
	}
	token := "e2e-token-" + harness.Slug("t")
	harness.Launch(t, e.be, *p, backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid(), Getenv: func(k string) string {
		if k == "E2E_TOKEN" {
			return token
		}
		return ""
	}})
	if _, err := e.eng.NetworkConnect(ctx, netName, client.NetworkConnectOptions{Container: "bot-bottle-" + p.Slug + "-sidecar"}); err != nil {
		t.Fatal(err)
	}

	r := harness.Sh(t, e.be, p.Slug, "/opt/e2e-grpc/grpcfixture client grpc.e2e.test:443")
	t.Logf("the agent's grpc-go client:\n%s", r)
	checkGRPCFixture(t, r.Stdout, token)
	if strings.Contains(r.Stdout+r.Stderr, token) {
		t.Error("the agent saw the token")
	}
	b, _ := os.ReadFile(filepath.Join(p.StateDir, "logs", "egress.jsonl"))
	if log := string(b); !strings.Contains(log, `"code":"dlp"`) || !strings.Contains(log, `"path":"/grpc.health.v1.Health/Check"`) {
		t.Errorf("the sidecar's log (%s) lacks the gRPC calls and the refusal:\n%s", p.StateDir, log)
	}
}

// TestGRPCThroughEgressServe: the same grpc-go client and server as
// TestGRPCThroughABottle, as processes on loopback, through the real
// "bot-bottle egress serve" command (no engine needed).
func TestGRPCThroughEgressServe(t *testing.T) {
	fixture := harness.BuildStatic(t, "./test/e2e/grpcfixture")
	bin := harness.BuildStatic(t, "./cmd/bot-bottle")
	ca := harness.NewTestCA(t)
	leaf := ca.Leaf(t, "localhost")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // the server's port: free a moment ago, on loopback
	startProc(t, "serving grpc", nil, fixture, "serve", "127.0.0.1:"+port, filepath.Join(leaf, "cert.pem"), filepath.Join(leaf, "key.pem"))

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "policy.yaml"), `egress:
  routes:
    - host: localhost
      auth: {scheme: Bearer, token_ref: E2E_TOKEN}
      dlp: {outbound_on_match: block}
      matches:
        - paths: [{type: prefix, value: /grpc.health.v1.Health/}, {type: prefix, value: /grpc.reflection.v1.ServerReflection/}]
`)
	token := "e2e-token-" + harness.Slug("t")
	logs := startProc(t, `"msg":"egress listening"`, []string{"E2E_TOKEN=" + token, "HOME=" + dir}, bin, "egress", "serve",
		"--policy", filepath.Join(dir, "policy.yaml"), "--listen", "127.0.0.1:0", "--state-dir", filepath.Join(dir, "ca"),
		"--upstream-ca", filepath.Join(ca.Dir, "ca.pem"), "--unsafe-allow-private-ranges", "--allow-port", port)
	m := regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no listening address in:\n%s", logs)
	}

	cmd := exec.Command(fixture, "client", "localhost:"+port)
	cmd.Env = []string{"GRPCFIXTURE_CONNECT=" + m[1], "SSL_CERT_FILE=" + filepath.Join(dir, "ca", "ca.pem")}
	out, err := cmd.CombinedOutput()
	t.Logf("the grpc-go client through egress serve:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	checkGRPCFixture(t, string(out), token)
	if log := logs.String(); !strings.Contains(log, `"code":"dlp"`) || strings.Contains(log, token) {
		t.Errorf("egress serve's log lacks the refusal or holds the token:\n%s", log)
	}
}

// startProc runs name args until t ends and waits for ready in its
// output (both streams, returned as it grows).
func startProc(t *testing.T, ready string, env []string, name string, args ...string) *testenv.LockedBuffer {
	t.Helper()
	out := &testenv.LockedBuffer{}
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 300 { // a bound of 30 s, not a measurement
		if strings.Contains(out.String(), ready) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never said %q:\n%s", filepath.Base(name), ready, out)
	return nil
}

// checkGRPCFixture checks what grpcfixture's client printed: every kind
// of call worked with the token injected, the refusals came, and the
// server saw no secret.
func checkGRPCFixture(t *testing.T, out, token string) {
	t.Helper()
	auth := fmt.Sprintf("%x", sha256.Sum256([]byte("Bearer "+token)))
	for _, want := range []string{
		"unary: SERVING OK auth-sha256=" + auth + "\n",
		"gzip: SERVING OK\n",
		`trailers: NotFound "no service called fail"` + "\n",
		"server-streaming: SERVING OK\n",
		"bidi: 3 answers while open\n",
		"outside-matches: PermissionDenied\n",
		`secret: PermissionDenied "bot-bottle egress refused a message (dlp) rf-`,
		"leak-check: OK\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the agent's output lacks %q", want)
		}
	}
}
