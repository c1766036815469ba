package kubernetes

// Tests on a real cluster: the one BOT_BOTTLE_KUBECONFIG names
// (`scripts/local-cluster.sh up`, then `export BOT_BOTTLE_KUBECONFIG=...`
// with the path `local-cluster.sh env` prints). Without it they skip, even
// under BOT_BOTTLE_REQUIRE_ALL=1: no CI stage builds a cluster (a cold
// build takes longer than CI's whole budget; docs/kubernetes.md).

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bot-bottle/bot-bottle/internal/attest"
	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/backendtest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// clusterNamespace holds the tests' bottles.
const clusterNamespace = "bot-bottle-test"

// fakeSidecarImage is the sidecar base with the e2e fixture as its
// entrypoint (it answers on the sidecar's ports).
const fakeSidecarImage = "bot-bottle-test/k8s-fake-sidecar:latest"

type cluster struct {
	k                    *Kubernetes
	agentImage, sidecarI string
}

// onCluster connects to the cluster, makes the test images and imports
// them into the node, or skips.
func onCluster(t *testing.T) cluster {
	t.Helper()
	kc := os.Getenv("BOT_BOTTLE_KUBECONFIG")
	if kc == "" {
		t.Skip("no cluster: set BOT_BOTTLE_KUBECONFIG (scripts/local-cluster.sh up; local-cluster.sh env)")
	}
	t.Setenv("KUBECONFIG", kc)
	ctx := context.Background()
	cfg, cs, _, err := Connect(ctx, "", clusterNamespace)
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: clusterNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	eng := harness.Engine(t)
	base := harness.Base(t, eng)
	dir := t.TempDir()
	bin := harness.BuildStatic(t, "./test/e2e/fixture")
	if err := os.Rename(bin, filepath.Join(dir, "fixture")); err != nil {
		t.Fatal(err)
	}
	df := "FROM " + harness.SidecarBase(t, eng) + "\nCOPY fixture /usr/local/bin/bot-bottle\n" +
		`ENTRYPOINT ["/usr/local/bin/bot-bottle", "fake-sidecar"]` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	runCmd(t, "docker", "build", "-q", "-t", fakeSidecarImage, dir)
	runCmd(t, "bash", filepath.Join(harness.RepoRoot(t), "scripts", "local-cluster.sh"), "import", base, fakeSidecarImage)
	k := New(cs, Options{Namespace: clusterNamespace, Exec: RESTExecutor(cfg, cs.CoreV1().RESTClient())})
	return cluster{k: k, agentImage: base, sidecarI: fakeSidecarImage}
}

func runCmd(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (c cluster) plan(t *testing.T) plan.Bottle {
	p := harness.ShellPlan(t)
	p.Images = plan.Images{Agent: c.agentImage, Sidecar: c.sidecarI}
	return p
}

func clusterLaunchOptions() backend.LaunchOptions {
	return backend.LaunchOptions{UID: os.Getuid(), GID: os.Getgid()}
}

// TestClusterConformance runs the backend suite on the cluster.
func TestClusterConformance(t *testing.T) {
	c := onCluster(t)
	backendtest.Run(t, backendtest.Config{
		Backend: c.k, NewPlan: c.plan, Options: clusterLaunchOptions(), NoCommit: true, IPv6Filtered: true,
	})
}

// TestClusterAttestation runs start's attestation probes in a bottle on
// the cluster: every one must report closed. The proxy's own probes are
// left out (the sidecar here is the fixture, not the proxy); what remains
// tests the wall: host listeners, resolvers, direct routes, IPv6. Then a
// bottle whose wall has a hole on purpose (the agent may open any TCP)
// must fail attestation with a leak. Besides the node's address, a host
// listener on every host address is probed (the local cluster's pods
// have no route beyond the node's bridge, whose address is among them).
func TestClusterAttestation(t *testing.T) {
	c := onCluster(t)
	bin := harness.BuildStatic(t, "./cmd/bot-bottle")

	p := c.plan(t)
	harness.Launch(t, c.k, p, clusterLaunchOptions())
	rep := attestWall(t, c.k, p.Slug, bin)
	for _, ch := range rep.Checks {
		if ch.Result.Leaked || ch.Result.Failed {
			t.Errorf("%s: %s", ch.Name, ch.Result.Got)
		}
	}
	if err := rep.Err(); err != nil {
		t.Errorf("sealed bottle: %v", err)
	}

	holed := &Kubernetes{cs: c.k.cs, ns: c.k.ns, opts: c.k.opts,
		hole: "-p tcp -m owner --uid-owner 1000 -j ACCEPT"}
	q := c.plan(t)
	harness.Launch(t, holed, q, clusterLaunchOptions())
	var le *attest.LeakError
	rep = attestWall(t, holed, q.Slug, bin)
	for _, ch := range rep.Bad() {
		t.Logf("holed: %s: %s", ch.Name, ch.Result.Got)
	}
	if err := rep.Err(); !errors.As(err, &le) {
		t.Errorf("a wall letting the agent open any TCP: attestation = %v, want a leak", err)
	}
}

// attestWall runs every probe but the proxy's.
func attestWall(t *testing.T, k *Kubernetes, slug, bin string) attest.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tg, err := k.Targets(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	if len(tg.HostAddrs) == 0 || len(tg.AgentAddrs) == 0 {
		t.Fatalf("targets name no node or pod address: %+v", tg)
	}
	tg.Proxy = ""
	port := harness.HostListener(t)
	var extra []string
	for _, a := range backendtest.HostAddrs(t) {
		extra = append(extra, net.JoinHostPort(a, port))
	}
	rep, err := attest.Run(ctx, k, slug, tg, attest.Options{Binary: bin, Phase: "test", ExtraTCP: extra})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d checks: %s", len(rep.Checks), rep.Summary())
	return rep
}
