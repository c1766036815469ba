package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/backend/backendtest"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
)

// TestSidecarReachesTheInternetTheAgentDoesNot: the stand-in internet (an
// HTTPS server and an SSH git server on the egress network) answers the
// sidecar, which runs ssh as an ordinary uid with the gate's key and pinned
// host key, and is out of the agent's reach even by address.
func TestSidecarReachesTheInternetTheAgentDoesNot(t *testing.T) {
	e := setup(t)
	p := harness.RealPlan(t, t.TempDir())
	harness.OnlyDaemons(p, plan.DaemonDNS)
	slug := p.Slug

	// The git server must exist before Prepare copies its key: run it on
	// a network of its own first, then join the bottle's egress network.
	ca := harness.NewTestCA(t)
	netName := "bot-bottle-test-" + slug
	if _, err := e.eng.NetworkCreate(context.Background(), netName, client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{"bot-bottle.test": "1"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.eng.NetworkRemove(context.Background(), netName, client.NetworkRemoveOptions{}) })
	gs := harness.NewGitServer(t, e.eng, netName, "git.e2e.test", "project")
	httpsIP := harness.HTTPSServer(t, e.eng, ca, netName, "api.e2e.test")

	p.GitGate.Repos = []plan.Repo{{Name: "project", URL: gs.URL, HostKey: gs.HostKey, KnownHostsName: "git.e2e.test", KeyFile: gs.KeyFile}}
	if err := lifecycle.Prepare(p, nil); err != nil {
		t.Fatal(err)
	}
	uid, gid := harness.OrdinaryUser(t, p.StateDir)
	harness.Launch(t, e.be, *p, backend.LaunchOptions{UID: uid, GID: gid})
	// The sidecar's egress leg joins the internet.
	if _, err := e.eng.NetworkConnect(context.Background(), netName, client.NetworkConnectOptions{Container: "bot-bottle-" + slug + "-sidecar"}); err != nil {
		t.Fatal(err)
	}

	out := harness.ExecContainer(t, e.eng, "bot-bottle-"+slug+"-sidecar",
		"sh", "-c", `GIT_SSH_COMMAND="ssh -F /dev/null -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes -i `+plan.SidecarSSHDir+`/project.key -o UserKnownHostsFile=`+plan.SidecarSSHDir+`/known_hosts -o StrictHostKeyChecking=yes" git ls-remote `+gs.URL+` 2>&1; id -un`)
	if !strings.Contains(out, "refs/heads/main") || !strings.HasSuffix(out, "bot-bottle\n") && uid != 0 {
		t.Errorf("sidecar ls-remote of the upstream (as uid %d):\n%s", uid, out)
	}

	if open := backendtest.Probe(t, e.be, slug, []string{gs.IP + ":22", httpsIP + ":443"}); len(open) > 0 {
		t.Errorf("the agent reached the internet directly: %v", open)
	}
	r := harness.Sh(t, e.be, slug, "getent hosts api.e2e.test git.e2e.test; echo rc=$?")
	if r.Stdout != "rc=2\n" {
		t.Errorf("the agent resolved the internet's names: %s", r)
	}
}
