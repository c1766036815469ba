package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/cli"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
	"github.com/bot-bottle/bot-bottle/test/e2e/harness"
	"github.com/moby/moby/client"
)

// hostGit runs git on the host in dir with a fixed identity.
func hostGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=user", "GIT_AUTHOR_EMAIL=user@example.com",
		"GIT_COMMITTER_NAME=user", "GIT_COMMITTER_EMAIL=user@example.com", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// userRepo is a working directory with a two-commit history, an ignored
// file and an untracked one.
func userRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	hostGit(t, dir, "init", "-q", "-b", "main")
	files := map[string]string{".gitignore": "*.log\n", "main.go": "package main\n", "secret.log": "ignored\n"}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hostGit(t, dir, "add", ".gitignore", "main.go")
	hostGit(t, dir, "commit", "-q", "-m", "user: first")
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	hostGit(t, dir, "commit", "-q", "-am", "user: second")
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("untracked\n"), 0o644)
	return dir
}

// cliRun runs bot-bottle with args for the user whose home is home.
func cliRun(t *testing.T, e env, home string, args ...string) (int, string, string) {
	t.Helper()
	return cliRunIn(t, e, home, home, args...)
}

// cliRunIn is cliRun in the working directory cwd.
func cliRunIn(t *testing.T, e env, home, cwd string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		switch k {
		case "BOT_BOTTLE_SIDECAR_BINARY":
			return e.bin
		}
		return os.Getenv(k)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rc := cli.Run(ctx, args, cli.Env{
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: getenv, Environ: func() []string { return nil }, Home: home, Cwd: cwd,
	})
	return rc, stdout.String(), stderr.String()
}

// startShell runs prompt in the shell bottle of p the way start and
// resume do, and returns the exit code and the agent's output.
func startShell(t *testing.T, e env, p *plan.Bottle, prompt string, o lifecycle.StartOptions) (int, string, string) {
	t.Helper()
	t.Cleanup(func() { e.be.Remove(context.Background(), p.Slug) })
	var out, progress bytes.Buffer
	o.Backend = e.be
	if o.MakeCA == nil {
		o.MakeCA = makeCA // a capability build's proxy needs the bottle CA
	}
	o.Provision = shellProvision(t, true, prompt)
	o.Launch.UID, o.Launch.GID = os.Getuid(), os.Getgid()
	o.Session = lifecycle.Session{Stdout: &out, Stderr: &out}
	o.Progress = &progress
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code, err := lifecycle.Start(ctx, p, o)
	if err != nil {
		t.Fatalf("start %s: %v\n%s", p.Slug, err, progress.String())
	}
	return code, out.String(), progress.String()
}

// replan plans the built-in agent again for slug under home, as resume
// does, with the sidecar running daemons (default: dns only).
func replan(t *testing.T, home, slug string, daemons ...string) *plan.Bottle {
	t.Helper()
	fresh := t.TempDir()
	res, err := manifest.Load(fresh, fresh).Resolve(manifest.BuiltinAgent, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Make(plan.Input{Resolved: res, Rand: rand.Reader, StateRoot: filepath.Join(home, ".bot-bottle", "state"), Slug: slug})
	if err != nil {
		t.Fatal(err)
	}
	if len(daemons) == 0 {
		daemons = []string{plan.DaemonDNS}
	}
	harness.OnlyDaemons(p, daemons...)
	return p
}

// TestWorkspaceInCommitsOut: a working directory with history is copied
// in (ignored files left out, owned by the agent), the agent commits and
// leaves work uncommitted, its containers go; export then gives a bundle
// git fetch accepts with exactly the agent's commits, --patch a series
// git am applies, diff the changes; nothing else reaches the host.
func TestWorkspaceInCommitsOut(t *testing.T) {
	e := setup(t)
	home := t.TempDir()
	src := userRepo(t)
	before := hostGit(t, src, "status", "--porcelain", "--ignored")
	baseHead := hostGit(t, src, "rev-parse", "HEAD")

	hostGit(t, src, "remote", "add", "origin", "git@github.com:acme/project.git")
	p := harness.RealPlan(t, home)
	harness.OnlyDaemons(p, plan.DaemonDNS)
	// The copied repository's remote is a declared upstream: the plan's
	// insteadOf rules send it to the gate.
	p.GitConfig = plan.GitConfig(plan.DefaultGitGateURL, manifest.GitUser{}, []plan.Repo{{Name: "project", URL: "git@github.com:acme/project.git"}})
	prompt := `set -e
cd /workspace
test -f main.go && test -f notes.txt && test -d .git
test ! -e secret.log || { echo "ignored file copied"; exit 9; }
echo "owner=$(stat -c %u main.go) me=$(id -u) log=$(git log --format=%s | tr '\n' ,) push=$(git remote get-url --push origin)"
echo one > one.txt && git add one.txt
git -c user.name=agent -c user.email=agent@bottle commit -qm "agent: one"
echo 'func helper() {}' >> main.go
echo new > new.txt
git add -A
git -c user.name=agent -c user.email=agent@bottle commit -qm "agent: two"
echo wip > wip.txt
mkdir -p .git/hooks && printf '#!/bin/sh\ntouch /tmp/pwned\n' > .git/hooks/post-checkout && chmod +x .git/hooks/post-checkout`
	code, out, progress := startShell(t, e, p, prompt, lifecycle.StartOptions{
		Workspace: &lifecycle.Workspace{Source: src, RespectGitignore: true},
	})
	if code != 0 {
		t.Fatalf("agent exit %d: %s\n%s", code, out, progress)
	}
	if !strings.Contains(out, "log=user: second,user: first,") || !strings.Contains(out, "push=http://git-gate:9420/project.git") {
		t.Errorf("agent saw: %s", out)
	}
	if f := strings.Fields(out); len(f) < 2 || strings.TrimPrefix(f[0], "owner=") != strings.TrimPrefix(f[1], "me=") {
		t.Errorf("the copy is not owned by the agent's user: %s", out)
	}
	if !strings.Contains(progress, "copying "+src+" into /workspace") {
		t.Errorf("no copy-in line in progress:\n%s", progress)
	}
	if list, _ := e.be.List(context.Background()); hasSlug(list, p.Slug) {
		t.Fatalf("%s still has containers", p.Slug)
	}

	// The containers are gone: export uses what was saved at exit.
	dest := t.TempDir()
	rc, stdout, stderr := cliRun(t, e, home, "export", p.Slug, dest)
	if rc != 0 {
		t.Fatalf("export: exit %d\n%s%s", rc, stdout, stderr)
	}
	bundle := filepath.Join(dest, p.Slug+".bundle")
	heads := hostGit(t, src, "bundle", "list-heads", bundle)
	if !strings.Contains(heads, "refs/heads/main") || strings.Contains(heads, "refs/remotes") {
		t.Errorf("bundle heads:\n%s", heads)
	}
	hostGit(t, src, "fetch", "-q", bundle, "refs/heads/main:refs/remotes/bottle/main")
	got := hostGit(t, src, "log", "--format=%s", "main..bottle/main")
	if got != "agent: two\nagent: one" {
		t.Errorf("fetched commits:\n%s\nwant exactly the agent's two", got)
	}
	if mb := hostGit(t, src, "merge-base", "main", "bottle/main"); mb != baseHead {
		t.Errorf("the agent's commits sit on %s, want the copied-in HEAD %s", mb, baseHead)
	}
	// Nothing but the fetched ref reached the user's repository.
	if after := hostGit(t, src, "status", "--porcelain", "--ignored"); after != before {
		t.Errorf("work tree changed:\nbefore %q\nafter  %q", before, after)
	}
	if _, err := os.Stat(filepath.Join(src, ".git", "hooks", "post-checkout")); err == nil {
		t.Error("the agent's hook reached the host")
	}
	if rc, _, _ := cliRun(t, e, home, "export", p.Slug, dest); rc != 2 {
		t.Errorf("a second export over the same file: exit %d, want 2 (never overwrite)", rc)
	}

	patches := filepath.Join(t.TempDir(), "patches")
	rc, stdout, stderr = cliRun(t, e, home, "export", p.Slug, patches, "--patch")
	if rc != 0 {
		t.Fatalf("export --patch: exit %d\n%s%s", rc, stdout, stderr)
	}
	files := strings.Fields(stdout)
	if len(files) != 2 || !strings.HasSuffix(files[1], "0002-agent-two.patch") {
		t.Fatalf("patch files: %v", files)
	}
	clone := filepath.Join(t.TempDir(), "clone")
	hostGit(t, filepath.Dir(clone), "clone", "-q", src, clone)
	hostGit(t, clone, append([]string{"am", "-q"}, files...)...)
	if got := hostGit(t, clone, "show", "HEAD:new.txt"); got != "new" {
		t.Errorf("after git am new.txt = %q", got)
	}

	rc, stdout, stderr = cliRun(t, e, home, "diff", p.Slug)
	if rc != 0 {
		t.Fatalf("diff: exit %d\n%s", rc, stderr)
	}
	for _, want := range []string{"agent: two", "+func helper() {}", "new.txt", "+wip"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("diff lacks %q:\n%s", want, stdout)
		}
	}
}

// approve answers proposal id as the operator would, through the CLI.
func approve(t *testing.T, e env, home, id string) {
	t.Helper()
	if rc, out, errOut := cliRun(t, e, home, "supervise", "approve", id, "--reason", "e2e"); rc != 0 {
		t.Fatalf("supervise approve: exit %d\n%s%s", rc, out, errOut)
	}
}

func submit(t *testing.T, p *plan.Bottle, tool, file string) string {
	t.Helper()
	q := queue.New(filepath.Join(p.StateDir, "supervise", "queue"))
	pr, err := q.Submit(queue.Proposal{BottleSlug: p.Slug, Tool: tool, ProposedFile: file, Justification: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	return pr.ID
}

// TestApprovedRouteSurvivesResume: a route approved while the bottle runs
// is live, and after stop and resume it is still in the policy the sidecar
// loads and in the agent's view, and resume says it kept it. The live diff
// works on a kept bottle.
func TestApprovedRouteSurvivesResume(t *testing.T) {
	e := setup(t)
	home := t.TempDir()
	ctx := context.Background()
	p := harness.RealPlan(t, home) // the whole sidecar: egress, supervise, dns
	src := userRepo(t)
	if code, out, progress := startShell(t, e, p, "true", lifecycle.StartOptions{Keep: true, MakeCA: makeCA, Workspace: &lifecycle.Workspace{Source: src}}); code != 0 {
		t.Fatalf("first run: exit %d %s\n%s", code, out, progress)
	}
	caBefore, _ := os.ReadFile(filepath.Join(p.StateDir, "ca", "ca.pem"))
	if r := harness.Sh(t, e.be, p.Slug, allowlist); strings.Contains(r.Stdout, "approved.example.test") {
		t.Fatalf("route allowed before approval: %s", r)
	}
	approve(t, e, home, submit(t, p, queue.ToolEgressAllow, "routes:\n  - host: approved.example.test\n"))
	policy := filepath.Join(p.StateDir, "egress", "policy.yaml")
	if b, _ := os.ReadFile(policy); !bytes.Contains(b, []byte("approved.example.test")) {
		t.Fatalf("approved route not live in %s:\n%s", policy, b)
	}
	var live harness.Result
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if live = harness.Sh(t, e.be, p.Slug, allowlist); strings.Contains(live.Stdout, "approved.example.test") {
			break
		}
	}
	if !strings.Contains(live.Stdout, "approved.example.test") {
		t.Errorf("the proxy does not allow the approved route while running: %s", live)
	}
	r := harness.Sh(t, e.be, p.Slug, "cd /workspace && echo more >> main.go")
	if r.Code != 0 {
		t.Fatal(r)
	}
	rc, stdout, stderr := cliRun(t, e, home, "diff", p.Slug, "--stat")
	if rc != 0 || !strings.Contains(stdout, "main.go") || strings.Contains(stderr, "not running") {
		t.Errorf("live diff --stat: exit %d\n%s%s", rc, stdout, stderr)
	}

	if rc, out, errOut := cliRun(t, e, home, "stop", p.Slug); rc != 0 {
		t.Fatalf("stop: exit %d %s%s", rc, out, errOut)
	}
	// stop kept the work: diff shows it while the agent is stopped.
	if rc, out, errOut := cliRun(t, e, home, "diff", p.Slug); rc != 0 || !strings.Contains(out, "+more") || !strings.Contains(errOut, "not running") {
		t.Errorf("diff of the stopped bottle: exit %d\n%s%s", rc, out, errOut)
	}
	// resume: plan again, remove the stopped containers, start.
	p2 := replan(t, home, p.Slug, p.Sidecar.Daemons...)
	if err := e.be.Remove(ctx, p.Slug); err != nil {
		t.Fatal(err)
	}
	code, out, progress := startShell(t, e, p2, "cat /etc/bot-bottle/current-config/egress.yaml; "+allowlist, lifecycle.StartOptions{Keep: true, MakeCA: makeCA})
	if code != 0 {
		t.Fatalf("resume: exit %d %s\n%s", code, out, progress)
	}
	if strings.Count(out, "approved.example.test") < 2 {
		t.Errorf("after resume the agent's view or the proxy's allowlist lacks the approved route:\n%s", out)
	}
	if caAfter, _ := os.ReadFile(filepath.Join(p.StateDir, "ca", "ca.pem")); len(caBefore) == 0 || !bytes.Equal(caBefore, caAfter) {
		t.Error("resume did not keep the bottle CA")
	}
	if b, _ := os.ReadFile(policy); !bytes.Contains(b, []byte("approved.example.test")) {
		t.Errorf("the live policy after resume lacks the approved route:\n%s", b)
	}
	if !strings.Contains(progress, "keeping 1 route(s) approved") || !strings.Contains(progress, "manifests unchanged") {
		t.Errorf("resume did not say what it kept:\n%s", progress)
	}
}

// TestApprovedCapabilityAtNextStart: approved capability-block lines are
// built into the bottle's image at its next start, as root, with no
// network, and the agent still runs as its own user; a failing line drops
// no other, is shown once with its log and not retried; rm removes the
// bottle's capability images (they carry its slug label).
func TestApprovedCapabilityAtNextStart(t *testing.T) {
	e := setup(t)
	home := t.TempDir()
	p := harness.RealPlan(t, home)
	harness.OnlyDaemons(p, plan.DaemonDNS)
	check := "cat /usr/local/share/bot-bottle-cap.txt; ls /sys/class/net | tr '\\n' ' '; echo; getent passwd capuser | cut -d: -f1; id -un"
	code, out, _ := startShell(t, e, p, check, lifecycle.StartOptions{})
	if strings.Contains(out, "capability-ok") || code == 0 && strings.Contains(out, "capuser") {
		t.Fatalf("capability present before approval: %s", out)
	}
	approve(t, e, home, submit(t, p, queue.ToolCapabilityBlock,
		"RUN echo capability-ok > /usr/local/share/bot-bottle-cap.txt && ls /sys/class/net > /usr/local/share/bot-bottle-nets.txt\nRUN useradd --no-create-home capuser\n"))

	p2 := replan(t, home, p.Slug)
	code, out, progress := startShell(t, e, p2, check+"; cat /usr/local/share/bot-bottle-nets.txt", lifecycle.StartOptions{Keep: true})
	if code != 0 {
		t.Fatalf("next start: exit %d %s\n%s", code, out, progress)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 || lines[0] != "capability-ok" || lines[2] != "capuser" || lines[3] == "root" || lines[4] != "eth0" || lines[5] != "lo" {
		t.Errorf("after approval the agent saw (want capability-ok, capuser, agent, only the build network and lo at build):\n%s", out)
	}
	if !strings.Contains(progress, "RUN useradd --no-create-home capuser") {
		t.Errorf("the lines were not shown before the build:\n%s", progress)
	}

	// A commit carries the lines: resuming from it builds nothing again.
	rc, stdout, stderr := cliRun(t, e, home, "commit", p.Slug)
	if rc != 0 {
		t.Fatalf("commit: exit %d %s%s", rc, stdout, stderr)
	}
	committed := strings.TrimSpace(stdout)
	t.Cleanup(func() { e.eng.ImageRemove(context.Background(), committed, client.ImageRemoveOptions{Force: true}) })
	if err := e.be.Remove(context.Background(), p.Slug); err != nil {
		t.Fatal(err)
	}
	code, out, progress = startShell(t, e, replan(t, home, p.Slug), check, lifecycle.StartOptions{Launch: backend.LaunchOptions{AgentImage: committed}})
	if code != 0 || !strings.Contains(out, "capability-ok") || strings.Contains(progress, "building image") {
		t.Errorf("resume from the commit: exit %d\n%s\n%s", code, out, progress)
	}

	// A failing line and a separately approved good one: the good one is
	// built, the failure is shown once with its log and not run again.
	approve(t, e, home, submit(t, p, queue.ToolCapabilityBlock, "RUN echo broken-line-log && exit 7\n"))
	approve(t, e, home, submit(t, p, queue.ToolCapabilityBlock, "RUN echo second-ok > /usr/local/share/bot-bottle-cap2.txt\n"))
	check2 := "cat /usr/local/share/bot-bottle-cap.txt /usr/local/share/bot-bottle-cap2.txt"
	code, out, progress = startShell(t, e, replan(t, home, p.Slug), check2, lifecycle.StartOptions{})
	if code != 0 || !strings.Contains(out, "capability-ok\nsecond-ok\n") {
		t.Errorf("a failing line dropped a good one: exit %d, output %q\n%s", code, out, progress)
	}
	if !strings.Contains(out, "did not build") || !strings.Contains(out, "RUN echo broken-line-log && exit 7") || !strings.Contains(out, "| broken-line-log") {
		t.Errorf("the failed line was not shown with its log:\n%s", out)
	}
	code, out, progress = startShell(t, e, replan(t, home, p.Slug), check2, lifecycle.StartOptions{})
	if code != 0 || strings.Contains(out, "did not build") || !strings.Contains(out, "second-ok") {
		t.Errorf("the failed line was retried, or the good one lost, at the next start: exit %d\n%s\n%s", code, out, progress)
	}

	// The capability images carry the slug label; rm removes them.
	if imgs := slugImages(t, e, p.Slug); len(imgs) == 0 {
		t.Errorf("no image carries the label %s=%s", backend.LabelSlug, p.Slug)
	}
	if rc, stdout, stderr := cliRun(t, e, home, "rm", p.Slug); rc != 0 {
		t.Fatalf("rm: exit %d %s%s", rc, stdout, stderr)
	}
	if imgs := slugImages(t, e, p.Slug); len(imgs) != 0 {
		t.Errorf("rm left the bottle's images: %v", imgs)
	}
}

// allowlist asks the proxy for the routes in force.
const allowlist = "curl -s --max-time 10 http://_egress.local/allowlist"

// TestWorkspaceWithoutGit: a directory that is no repository is copied in;
// the agent makes one and commits; export (live, the bottle kept) gives a
// bundle with the whole history and diff shows the change since the copy.
func TestWorkspaceWithoutGit(t *testing.T) {
	e := setup(t)
	home := t.TempDir()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "README"), []byte("hello\n"), 0o644)
	p := harness.RealPlan(t, home)
	harness.OnlyDaemons(p, plan.DaemonDNS)
	prompt := `set -e
cd /workspace
echo changed > README
git init -q -b main
git add -A
git -c user.name=agent -c user.email=agent@bottle commit -qm "agent: init"`
	if code, out, progress := startShell(t, e, p, prompt, lifecycle.StartOptions{Keep: true, Workspace: &lifecycle.Workspace{Source: src}}); code != 0 {
		t.Fatalf("agent exit %d: %s\n%s", code, out, progress)
	}
	bundle := filepath.Join(t.TempDir(), "out.bundle")
	if rc, out, errOut := cliRun(t, e, home, "export", p.Slug, bundle); rc != 0 || strings.Contains(errOut, "not running") {
		t.Fatalf("live export: exit %d\n%s%s", rc, out, errOut)
	}
	repo := t.TempDir()
	hostGit(t, repo, "init", "-q")
	hostGit(t, repo, "fetch", "-q", bundle, "refs/heads/main:refs/heads/agent")
	if got := hostGit(t, repo, "log", "--format=%s", "agent"); got != "agent: init" {
		t.Errorf("fetched history %q", got)
	}
	rc, out, errOut := cliRun(t, e, home, "diff", p.Slug)
	if rc != 0 || !strings.Contains(out, "-hello") || !strings.Contains(out, "+changed") {
		t.Errorf("diff: exit %d\n%s%s", rc, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(src, "README")); string(b) != "hello\n" {
		t.Errorf("the host's file changed: %q", b)
	}
}

// TestStartCwdThroughTheCLI: bot-bottle start --cwd --respect-gitignore
// --headless copies the working directory in, the agent commits and
// exits, and bot-bottle export gives the commit.
func TestStartCwdThroughTheCLI(t *testing.T) {
	e := setup(t)
	home := t.TempDir()
	src := userRepo(t)
	rc, out, errOut := cliRunIn(t, e, home, src, "start", "--cwd", "--respect-gitignore", "--headless", "--prompt",
		`cd /workspace && test ! -e secret.log && echo x > cli.txt && git add cli.txt && git -c user.name=a -c user.email=a@b commit -qm "agent: cli"`)
	if rc != 0 || !strings.Contains(errOut, "copying "+src+" into /workspace") {
		t.Fatalf("start --cwd: exit %d\n%s%s", rc, out, errOut)
	}
	dirs, err := lifecycle.StateDirs(filepath.Join(home, ".bot-bottle", "state"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("state dirs: %v %v", dirs, err)
	}
	for slug := range dirs {
		t.Cleanup(func() { e.be.Remove(context.Background(), slug) })
		bundle := filepath.Join(t.TempDir(), "b.bundle")
		if rc, out, errOut := cliRun(t, e, home, "export", slug, bundle); rc != 0 {
			t.Fatalf("export: exit %d\n%s%s", rc, out, errOut)
		}
		hostGit(t, src, "fetch", "-q", bundle, "refs/heads/main:refs/remotes/bottle/main")
		if got := hostGit(t, src, "log", "--format=%s", "main..bottle/main"); got != "agent: cli" {
			t.Errorf("fetched %q", got)
		}
	}
}
