package kubernetes

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/ca"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// upstreamHost is the fixture upstream's name (an /etc/hosts line in the
// bottle's pod: the local cluster has no DNS).
const upstreamHost = "api.e2e.test"

// TestClusterTokenReachesUpstream: a bottle with the real sidecar and a
// route that injects a token, talking to an HTTPS echo server in another
// pod of the cluster: the upstream gets the token, the agent never holds
// it, and a host with no route is refused.
func TestClusterTokenReachesUpstream(t *testing.T) {
	c := onCluster(t)
	testCA := harness.NewTestCA(t)
	ip := upstreamPod(t, c, testCA)

	home := t.TempDir()
	writeTestFile(t, filepath.Join(home, ".bot-bottle", "bottles", "k8s.md"), "---\negress:\n  routes:\n"+
		"    - host: "+upstreamHost+"\n      auth: {scheme: Bearer, token_ref: E2E_TOKEN}\n      unsafe_allow_private: true\n---\nThe k8s bottle.\n")
	writeTestFile(t, filepath.Join(home, ".bot-bottle", "agents", "k8s.md"), "---\nbottle: k8s\n---\nThe k8s agent.\n")
	res, err := manifest.Load(home, home).Resolve("k8s", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Make(plan.Input{Resolved: res, EnvSet: map[string]bool{"E2E_TOKEN": true}, Slug: harness.Slug("k8s"),
		Rand: rand.Reader, StateRoot: filepath.Join(home, ".bot-bottle", "state")})
	if err != nil {
		t.Fatal(err)
	}
	p.Mounts = append(p.Mounts, plan.Mount{Container: backend.RoleSidecar, Source: testCA.Dir, Target: "/run/e2e-ca", ReadOnly: true})
	p.SidecarEnv["SSL_CERT_FILE"] = "/run/e2e-ca/ca.pem"
	if err := lifecycle.Prepare(p, func(dir string) ([]byte, error) {
		c, err := ca.LoadOrCreate(dir)
		if err != nil {
			return nil, err
		}
		return c.CertPEM(), nil
	}); err != nil {
		t.Fatal(err)
	}
	runCmd(t, "bash", filepath.Join(harness.RepoRoot(t), "scripts", "local-cluster.sh"), "import", p.Images.Agent, p.Images.Sidecar)

	k := &Kubernetes{cs: c.k.cs, ns: c.k.ns, opts: c.k.opts, hostAliases: []corev1.HostAlias{{IP: ip, Hostnames: []string{upstreamHost}}}}
	token := "e2e-token-" + harness.Slug("t")
	opts := clusterLaunchOptions()
	opts.Getenv = func(name string) string {
		if name == "E2E_TOKEN" {
			return token
		}
		return ""
	}
	harness.Launch(t, k, *p, opts)

	r := harness.Sh(t, k, p.Slug, "for i in 1 2 3 4 5; do curl -sS --max-time 10 https://"+upstreamHost+"/hello && break; sleep 1; done")
	want := fmt.Sprintf("%x", sha256.Sum256([]byte("Bearer "+token)))
	if r.Code != 0 || !strings.Contains(r.Stdout, `"authorization_sha256":"`+want+`"`) || !strings.Contains(r.Stdout, `"path":"/hello"`) {
		logs, _ := os.ReadFile(filepath.Join(p.StateDir, "logs", "egress.jsonl"))
		t.Errorf("the upstream did not get the token: %s\negress log:\n%s", r, logs)
	}
	r = harness.Sh(t, k, p.Slug, "printenv; cat /etc/bot-bottle/current-config/* /etc/bot-bottle/ca/* 2>/dev/null")
	if strings.Contains(r.Stdout, token) {
		t.Errorf("the agent can read the token:\n%s", r.Stdout)
	}
	r = harness.Sh(t, k, p.Slug, "curl -sI --max-time 20 https://example.com; echo done")
	if !strings.Contains(r.Stdout, "403 bot-bottle egress refused (no-route)") || !strings.HasSuffix(r.Stdout, "done\n") {
		t.Errorf("a host with no route: %s", r)
	}

	t.Run("SuperviseApprovesLive", func(t *testing.T) { approveLive(t, k, p, home) })
}

// approveLive: the agent files egress-allow for a host through the
// supervise MCP server; the operator's `bot-bottle supervise approve`
// (outside the cluster, through the state the sidecar mounts) puts the
// route in the running proxy's table.
func approveLive(t *testing.T, k *Kubernetes, p *plan.Bottle, home string) {
	bin := harness.BuildStatic(t, "./cmd/bot-bottle")
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"egress-allow","arguments":` +
		`{"routes":"- host: other.e2e.test\n","justification":"k8s: the test needs it"}}}`
	r := harness.Sh(t, k, p.Slug, `(curl -sS --max-time 120 -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' `+
		`-H 'Mcp-Protocol-Version: 2025-06-18' -d '`+call+`' http://supervise:9100/mcp > /tmp/mcp.out 2>&1 &) ; echo filed`)
	if r.Code != 0 {
		t.Fatalf("filing: %s", r)
	}
	queue := filepath.Join(p.StateDir, "supervise", "queue")
	var id string
	for i := 0; i < 150 && id == ""; i++ {
		m, _ := filepath.Glob(filepath.Join(queue, "*.proposal.json"))
		if len(m) == 1 {
			id = strings.TrimSuffix(filepath.Base(m[0]), ".proposal.json")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if id == "" {
		logs, _ := os.ReadFile(filepath.Join(p.StateDir, "logs", "supervise.jsonl"))
		t.Fatalf("no proposal in %s; the agent's call: %s\nsupervise log:\n%s", queue, harness.Sh(t, k, p.Slug, "cat /tmp/mcp.out").Stdout, logs)
	}
	cmd := exec.Command(bin, "supervise", "approve", id)
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home, "BOT_BOTTLE_BACKEND="+Name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("supervise approve %s: %v\n%s", id, err, out)
	}
	var got string
	for i := 0; i < 50; i++ {
		got = harness.Sh(t, k, p.Slug, `curl -sS --max-time 5 http://_egress.local/allowlist | grep -c '"host": "other.e2e.test"'`).Stdout
		if !strings.HasPrefix(got, "0") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.HasPrefix(got, "0") {
		t.Errorf("after approval other.e2e.test is not in the proxy's table; the agent's call: %s",
			harness.Sh(t, k, p.Slug, "cat /tmp/mcp.out").Stdout)
	}
}

// upstreamPod runs the fixture's HTTPS echo server for upstreamHost in a
// pod and returns its address.
func upstreamPod(t *testing.T, c cluster, testCA *harness.TestCA) string {
	t.Helper()
	ctx := context.Background()
	dir := testCA.Leaf(t, upstreamHost)
	dirType := corev1.HostPathDirectory
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-upstream-" + strings.ToLower(harness.Slug("u")), Namespace: c.k.ns},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, AutomountServiceAccountToken: ptr(false),
			Containers: []corev1.Container{{
				Name: "https", Image: c.sidecarI, ImagePullPolicy: corev1.PullNever,
				Command:      []string{"/usr/local/bin/bot-bottle", "https", ":443", "/srv/cert.pem", "/srv/key.pem"},
				VolumeMounts: []corev1.VolumeMount{{Name: "leaf", MountPath: "/srv", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{Name: "leaf", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &dirType}}}},
		},
	}
	pods := c.k.cs.CoreV1().Pods(c.k.ns)
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pods.Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
	})
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		p, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
			return p.Status.PodIP
		}
		if p.Status.Phase == corev1.PodFailed {
			t.Fatalf("upstream pod failed: %s", p.Status.Message)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatal("the upstream pod did not start")
	return ""
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
