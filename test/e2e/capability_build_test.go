package e2e

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/docker"
	"github.com/bot-bottle/bot-bottle/internal/backend/podman"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// aptMirror is the stand-in Debian mirror scripts/ci-setup.d/70-e2e-apt-mirror.sh
// caches: jq and its libraries as Debian ships them, with unsigned
// Release files for the suites of the base image's sources.
func aptMirror(t *testing.T) string {
	t.Helper()
	root := os.Getenv("BOT_BOTTLE_CACHE")
	if root == "" {
		root = "/var/cache/bot-bottle"
	}
	dir := filepath.Join(root, "e2e-apt-mirror")
	_, err := os.Stat(filepath.Join(dir, ".done"))
	testenv.Require(t, "e2e-apt-mirror", err == nil, dir+" is missing: run scripts/ci-setup.d/70-e2e-apt-mirror.sh")
	return dir
}

// TestCapabilityBuildInstallsThroughTheProxy: approved capability lines
// run at the next start with their network only through the build proxy.
// On a test network of its own, a stand-in Debian mirror answers as
// deb.debian.org (the bottle's capabilities.routes allow it) and another
// host, outside.e2e.test, is allowed by no route. Then:
// `RUN apt-get update && apt-get install -y jq` builds through the proxy
// and jq runs at the next start; a line that asks outside.e2e.test fails
// and says the proxy refused it, and the lines after it are still built;
// a DNS lookup from a build line gets no answer, not even for the mirror
// the proxy itself reaches.
func TestCapabilityBuildInstallsThroughTheProxy(t *testing.T) {
	mirror := aptMirror(t)
	e := setup(t)
	ctx := context.Background()
	netName := "bot-bottle-test-" + harness.Slug("apt")
	if _, err := e.eng.NetworkCreate(ctx, netName, client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{"bot-bottle.test": "1"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.eng.NetworkRemove(context.Background(), netName, client.NetworkRemoveOptions{}) })
	srv := t.TempDir()
	os.Chmod(srv, 0o755)
	if out, err := exec.Command("cp", "-r", mirror, filepath.Join(srv, "mirror")).CombinedOutput(); err != nil {
		t.Fatalf("copying the mirror: %v %s", err, out)
	}
	if out, err := exec.Command("cp", harness.BuildStatic(t, "./test/e2e/fixture"), filepath.Join(srv, "fixture")).CombinedOutput(); err != nil {
		t.Fatalf("copying the fixture: %v %s", err, out)
	}
	base := harness.Base(t, e.eng)
	harness.RunOn(t, e.eng, base, netName, "deb.debian.org", srv, "/srv/fixture", "files", ":80", "/srv/mirror")
	harness.RunOn(t, e.eng, base, netName, "outside.e2e.test", srv, "/srv/fixture", "serve", ":80")
	// The build sidecar's egress leg joins the test's internet.
	opts := docker.Options{Base: base, SidecarBase: harness.SidecarBase(t, e.eng), SidecarBinary: e.bin, BuildNetworks: []string{netName}}
	if os.Getenv("BOT_BOTTLE_E2E_BACKEND") == "podman" {
		opts = podman.Options(opts)
	}
	e.be = docker.New(e.eng, opts)

	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".bot-bottle", "bottles", "capb.md"), `---
capabilities:
  routes:
    - host: deb.debian.org
      unsafe_allow_private: true
---
A bottle whose capability builds reach the stand-in mirror.
`)
	writeFile(t, filepath.Join(home, ".bot-bottle", "agents", "capb.md"), "---\nbottle: capb\n---\nThe capability build agent.\n")
	slug := harness.Slug("capb")
	t.Cleanup(func() {
		list, _ := e.eng.ImageList(context.Background(), client.ImageListOptions{Filters: client.Filters{}.Add("label", backend.LabelSlug+"="+slug)})
		for _, im := range list.Items {
			e.eng.ImageRemove(context.Background(), im.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		}
	})
	makePlan := func() *plan.Bottle {
		res, err := manifest.Load(home, home).Resolve("capb", nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := plan.Make(plan.Input{Resolved: res, Slug: slug, Rand: rand.Reader, StateRoot: filepath.Join(home, ".bot-bottle", "state")})
		if err != nil {
			t.Fatal(err)
		}
		harness.OnlyDaemons(p, plan.DaemonDNS)
		return p
	}
	p := makePlan()
	check := "jq --version; echo dns:; cat /usr/local/share/bot-bottle-dns.txt"
	if code, out, _ := startShell(t, e, p, check, lifecycle.StartOptions{}); code == 0 || strings.Contains(out, "jq-") {
		t.Fatalf("jq before any approval: exit %d %s", code, out)
	}
	for _, line := range []string{
		// The stand-in mirror's Release files are not signed by Debian.
		"RUN sed -i 's/^deb /deb [trusted=yes] /' /etc/apt/sources.list",
		"RUN curl -sS --fail-with-body --max-time 20 http://outside.e2e.test/",
		"RUN apt-get update && apt-get install -y jq",
		"RUN (getent hosts deb.debian.org outside.e2e.test; echo rc=$?) > /usr/local/share/bot-bottle-dns.txt",
	} {
		id := submit(t, p, queue.ToolCapabilityBlock, line+"\n")
		rc, stdout, stderr := cliRun(t, e, home, "supervise", "approve", id, "--reason", "e2e")
		// The operator is told what the build may reach (the first start
		// wrote the build policy).
		if rc != 0 || !strings.Contains(stdout, "its build may reach: deb.debian.org\n") {
			t.Fatalf("supervise approve: exit %d\n%s%s", rc, stdout, stderr)
		}
	}

	// What a killed build would leave does not stop the next one.
	if _, err := e.eng.NetworkCreate(ctx, "bot-bottle-"+slug+"-build-egress", client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{"bot-bottle.test": "1"}}); err != nil {
		t.Fatal(err)
	}
	code, out, progress := startShell(t, e, makePlan(), check, lifecycle.StartOptions{})
	if code != 0 || !strings.Contains(out, "jq-1.6") {
		t.Errorf("jq after the approved build: exit %d\n%s\n%s", code, out, progress)
	}
	if !strings.Contains(progress, "may reach: deb.debian.org") {
		t.Errorf("the start did not say what the build may reach:\n%s", progress)
	}
	if !strings.Contains(progress, "built RUN apt-get update && apt-get install -y jq") {
		t.Errorf("the apt line was not built:\n%s", progress)
	}
	// The refused line: shown once, with the proxy's own word for it.
	for _, want := range []string{"did not build", "RUN curl -sS --fail-with-body --max-time 20 http://outside.e2e.test/", "bot-bottle egress refused GET http://outside.e2e.test/", "the build proxy refused GET http://outside.e2e.test:80/ (no-route)"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refused line's failure lacks %q:\n%s", want, out)
		}
	}
	// DNS from a build line: the refusing resolver only.
	if _, dns, _ := strings.Cut(out, "dns:\n"); dns != "rc=2\n" {
		t.Errorf("a build line's DNS lookups: %q, want no answer (rc=2)\n%s", dns, out)
	}
	// apt's requests went through the build proxy, which logged them.
	log, err := os.ReadFile(filepath.Join(p.StateDir, "capabilities", "build", "logs", "egress.jsonl"))
	if err != nil || !strings.Contains(string(log), `"host":"deb.debian.org"`) || !strings.Contains(string(log), `"decision":"allow"`) {
		t.Errorf("the build proxy's log has no allowed request to the mirror (%v):\n%s", err, log)
	}
	// The images keep the agent image's user and none of the build's
	// proxy settings (they were the exec's, not the container's).
	imgs := slugImages(t, e, slug)
	if len(imgs) == 0 {
		t.Error("no capability image carries the slug label")
	}
	for _, ref := range imgs {
		in, err := e.eng.ImageInspect(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if c := in.Config; c == nil || c.User != "agent" || strings.Contains(strings.Join(c.Env, " "), "PROXY") || strings.Contains(strings.Join(c.Entrypoint, " "), "sleep") {
			t.Errorf("capability image %s: user %q env %q entrypoint %q", ref, c.User, c.Env, c.Entrypoint)
		}
	}
	// Nothing of the build is left on the engine.
	if cs, err := e.eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("name", "bot-bottle-"+slug+"-build")}); err != nil || len(cs.Items) != 0 {
		t.Errorf("build containers left: %v %v", cs.Items, err)
	}
}
