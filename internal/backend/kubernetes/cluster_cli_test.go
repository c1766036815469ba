package kubernetes

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// cli runs the bot-bottle binary as a user would, with home as HOME, in
// dir, on the cluster's test namespace (a kubeconfig of its own names it:
// cleanup and diff take the namespace from the kubeconfig).
type cli struct {
	bin, home, kubeconfig string
}

func newCLI(t *testing.T) cli {
	t.Helper()
	kc, err := os.ReadFile(os.Getenv("KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	path := filepath.Join(home, "kubeconfig")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(kc), "namespace: default", "namespace: "+clusterNamespace)), 0o600); err != nil {
		t.Fatal(err)
	}
	return cli{bin: harness.BuildStatic(t, "./cmd/bot-bottle"), home: home, kubeconfig: path}
}

func (c cli) run(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+c.home, "KUBECONFIG="+c.kubeconfig, "BOT_BOTTLE_BACKEND="+Name)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestClusterStart is the "done means" on the cluster, through
// the binary: start's attestation passes, the agent's curl to a host
// with no route gets the proxy's refusal, --cwd copies the work in, diff
// and export bring the agent's work out, and stop then cleanup leave
// nothing labelled in the namespace.
func TestClusterStart(t *testing.T) {
	c := onCluster(t)
	runCmd(t, "bash", filepath.Join(harness.RepoRoot(t), "scripts", "local-cluster.sh"), "import",
		"bot-bottle/agent-shell:latest", "bot-bottle/sidecar:latest")
	u := newCLI(t)

	out, err := u.run(t, u.home, "start", "--headless", "--prompt", "curl -sI https://example.com; echo done")
	if err != nil || !strings.Contains(out, "probes stayed closed") ||
		!strings.Contains(out, "403 bot-bottle egress refused (no-route): no egress route allows host example.com") ||
		!strings.Contains(out, "\ndone\n") {
		t.Fatalf("start: %v\n%s", err, out)
	}

	work := filepath.Join(u.home, "work")
	os.MkdirAll(work, 0o755)
	for _, a := range [][]string{{"init", "-q"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init"}} {
		runCmd(t, "git", append([]string{"-C", work}, a...)...)
	}
	out, err = u.run(t, work, "start", "--cwd", "--keep", "--headless", "--prompt",
		"cd /workspace && echo world > b.txt && git add b.txt && git -c user.name=a -c user.email=a@a commit -qm agent")
	if err != nil {
		t.Fatalf("start --cwd: %v\n%s", err, out)
	}
	list, err := c.k.List(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("list after start --keep: %+v, %v", list, err)
	}
	slug := list[0].Slug
	if out, err := u.run(t, work, "diff", slug); err != nil || !strings.Contains(out, "+world") {
		t.Errorf("diff: %v\n%s", err, out)
	}
	dest := filepath.Join(u.home, "out")
	if out, err := u.run(t, work, "export", slug, dest); err != nil {
		t.Errorf("export: %v\n%s", err, out)
	} else if heads, err := exec.Command("git", "bundle", "list-heads", filepath.Join(dest, slug+".bundle")).CombinedOutput(); err != nil || !strings.Contains(string(heads), "HEAD") {
		t.Errorf("the exported bundle: %v\n%s", err, heads)
	}

	for _, args := range [][]string{{"stop", slug}, {"cleanup"}} {
		if out, err := u.run(t, work, args...); err != nil {
			t.Fatalf("%s: %v\n%s", args[0], err, out)
		}
	}
	sel := metav1.ListOptions{LabelSelector: backend.LabelSlug}
	ctx := context.Background()
	pods, _ := c.k.cs.CoreV1().Pods(clusterNamespace).List(ctx, sel)
	secs, _ := c.k.cs.CoreV1().Secrets(clusterNamespace).List(ctx, sel)
	cms, _ := c.k.cs.CoreV1().ConfigMaps(clusterNamespace).List(ctx, sel)
	if n := len(pods.Items) + len(secs.Items) + len(cms.Items); n != 0 {
		t.Errorf("cleanup left %d pods, %d secrets, %d config maps", len(pods.Items), len(secs.Items), len(cms.Items))
	}
}
