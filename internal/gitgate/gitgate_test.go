package gitgate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/gitgate"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// fixture is one upstream repo behind one gate.
type fixture struct {
	ssh  *sshd
	bare string
	gate *gate
}

func newFixture(t *testing.T, s *sshd, name string, tweak func(*gitgate.Config, *manifest.Repo)) *fixture {
	t.Helper()
	bare := s.upstreamRepo(t, name)
	r := s.repo(bare)
	cfg := gitgate.Config{}
	if tweak != nil {
		tweak(&cfg, &r)
	}
	cfg.Repos = map[string]manifest.Repo{name: r}
	return &fixture{ssh: s, bare: bare, gate: startGate(t, cfg)}
}

// push runs git push in dir and returns its output and error.
func push(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	return run(t, dir, append([]string{"push", "origin"}, args...)...)
}

func TestCleanPushLandsUpstream(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	f := newFixture(t, s, "app", nil)
	work := f.gate.clone(t, "app")
	commitFile(t, work, "main.go", "package main\n", "add main")
	// Over http.postBuffer (1 MiB): git sends the pack chunked.
	// Seeded, so the content (and whether it trips a rule) never changes.
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 2<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	sha := commitFile(t, work, "asset.bin", string(big), "add asset")
	out, err := push(t, work, "main", "HEAD:refs/heads/feature")
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	t.Logf("push output:\n%s", out)
	for _, ref := range []string{"refs/heads/main", "refs/heads/feature"} {
		if got := refOf(t, f.bare, ref); got != sha {
			t.Errorf("upstream %s = %q, want %s\n%s", ref, got, sha, out)
		}
		if !strings.Contains(out, ref+": ok") {
			t.Errorf("push output does not report %s ok:\n%s", ref, out)
		}
	}
	if log := f.gate.pushLog(t); !strings.Contains(log, `"outcome":"forwarded"`) || !strings.Contains(log, `"refs/heads/feature"`) {
		t.Errorf("push log = %s", log)
	}
	// The mirror follows: a fresh clone sees the pushed commit.
	again := f.gate.clone(t, "app")
	if got := must(t, again, "rev-parse", "HEAD"); got != sha {
		t.Errorf("clone after push at %s, want %s", got, sha)
	}
}

func TestSecretsRefused(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	line := "token = \"" + secret + "\"\n"
	cases := []struct {
		name   string
		build  func(t *testing.T, work string) []string // push refspecs
		expect []string                                 // in the output
	}{
		{"newest commit", func(t *testing.T, work string) []string {
			commitFile(t, work, "a.txt", "a\n", "first")
			commitFile(t, work, "conf.py", line, "second")
			return []string{"main"}
		}, []string{"conf.py:1", "github-pat"}},
		{"older commit", func(t *testing.T, work string) []string {
			commitFile(t, work, "conf.py", line, "leak")
			commitFile(t, work, "conf.py", "clean\n", "cover up")
			return []string{"main"}
		}, []string{"conf.py:1"}},
		{"merged side branch", func(t *testing.T, work string) []string {
			must(t, work, "checkout", "-q", "-b", "side")
			commitFile(t, work, "side.py", line, "side leak")
			must(t, work, "checkout", "-q", "main")
			commitFile(t, work, "m.txt", "m\n", "main work")
			must(t, work, "merge", "-q", "--no-ff", "-m", "merge side", "side")
			return []string{"main"}
		}, []string{"side.py:1"}},
		{"tag", func(t *testing.T, work string) []string {
			must(t, work, "tag", "-a", "v1", "-m", "release\n\n"+line)
			return []string{"refs/tags/v1"}
		}, []string{scanTagMessage + ":3"}},
		{"commit message", func(t *testing.T, work string) []string {
			commitFile(t, work, "a.txt", "a\n", "subject\n\n"+line)
			return []string{"main"}
		}, []string{scanCommitMessage + ":3"}},
		{"big file", func(t *testing.T, work string) []string {
			// Over http.postBuffer, so sent chunked; the secret mid-file.
			var b strings.Builder
			for b.Len() < 3<<20 {
				b.WriteString("filler line of a large generated file\n")
			}
			commitFile(t, work, "gen.txt", b.String()+line+b.String(), "big")
			return []string{"main"}
		}, []string{"gen.txt:", "github-pat"}},
		{"binary file", func(t *testing.T, work string) []string {
			commitFile(t, work, "blob.bin", "\x00\x01\x02binary\x00\n"+line+"\x00\xff", "bin")
			return []string{"main"}
		}, []string{"blob.bin:2"}},
		{"one of many commits", func(t *testing.T, work string) []string {
			for i := range 30 {
				commitFile(t, work, fmt.Sprintf("f%d.txt", i%5), fmt.Sprintf("line %d\n", i), "clean")
				if i == 12 {
					commitFile(t, work, "f1.txt", "line\n"+line, "leak")
				}
			}
			return []string{"main"}
		}, []string{"f1.txt:2"}},
		{"new branch", func(t *testing.T, work string) []string {
			must(t, work, "checkout", "-q", "-b", "topic")
			commitFile(t, work, "k.py", line, "topic leak")
			return []string{"topic"}
		}, []string{"k.py:1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			name := strings.ReplaceAll(c.name, " ", "-")
			f := newFixture(t, s, name, nil)
			before := refOf(t, f.bare, "refs/heads/main")
			work := f.gate.clone(t, name)
			specs := c.build(t, work)
			out, err := push(t, work, specs...)
			if err == nil {
				t.Fatalf("push with a secret succeeded:\n%s", out)
			}
			if strings.Contains(out, secret) {
				t.Errorf("output shows the secret:\n%s", out)
			}
			want := append([]string{"remote: git-gate: push refused: gitleaks found", "REDACTED"}, c.expect...)
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if got := refOf(t, f.bare, "refs/heads/main"); got != before {
				t.Errorf("upstream main moved to %s", got)
			}
			if refOf(t, f.bare, "refs/tags/v1") != "" || refOf(t, f.bare, "refs/heads/topic") != "" {
				t.Error("refused ref reached the upstream")
			}
			if log := f.gate.pushLog(t); !strings.Contains(log, `"outcome":"refused","reason":"gitleaks found 1 secret(s)"`) || strings.Contains(log, secret) {
				t.Errorf("push log = %s", log)
			}
			if got := refOf(t, filepath.Join(f.gate.state, "mirrors", name+".git"), "refs/heads/main"); got != before {
				t.Errorf("mirror main moved to %s", got)
			}
		})
	}
}

const (
	scanTagMessage    = "(tag message)"
	scanCommitMessage = "(commit message)"
)

// answer responds to the first gitleaks-allow proposal in dir.
func answer(t *testing.T, dir string, respond func(q *queue.Queue, p queue.Proposal)) {
	t.Helper()
	q := queue.New(dir)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ps, _ := q.Pending()
		for _, p := range ps {
			if p.Tool == queue.ToolGitleaksAllow {
				respond(q, p)
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("no gitleaks-allow proposal arrived")
}

func TestGitleaksAllow(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	fixture := "token = \"" + secret + "\" # gitleaks:allow\n"
	cases := []struct {
		name    string
		queue   bool
		timeout string
		respond func(t *testing.T, q *queue.Queue, p queue.Proposal)
		ok      bool
		expect  string
	}{
		{"approved", true, "", func(t *testing.T, q *queue.Queue, p queue.Proposal) {
			var payload gitgate.AllowPayload
			checkPayload(t, p, &payload)
			if err := q.Respond(p.ID, queue.Response{Status: queue.StatusApproved, Notes: "test fixture"}); err != nil {
				t.Error(err)
			}
		}, true, "supervisor approved"},
		{"rejected", true, "", func(t *testing.T, q *queue.Queue, p queue.Proposal) {
			if err := q.Respond(p.ID, queue.Response{Status: queue.StatusRejected, Notes: "real key"}); err != nil {
				t.Error(err)
			}
		}, false, "supervisor rejected # gitleaks:allow"},
		{"approved without reason", true, "", func(t *testing.T, q *queue.Queue, p queue.Proposal) {
			if err := q.Respond(p.ID, queue.Response{Status: queue.StatusApproved}); err != nil {
				t.Error(err)
			}
		}, false, "approval without a reason"},
		{"malformed", true, "", func(t *testing.T, q *queue.Queue, p queue.Proposal) {
			if err := os.WriteFile(filepath.Join(q.Dir, p.ID+".response.json"), []byte("{not json"), 0o600); err != nil {
				t.Error(err)
			}
		}, false, "supervisor answer for # gitleaks:allow is malformed"},
		{"timed out", true, "1", nil, false, "supervisor approval timed out for # gitleaks:allow"},
		{"no queue", false, "", nil, false, "no supervisor queue configured"},
		{"invalid timeout", true, "soon", nil, false, "invalid SUPERVISE_GITLEAKS_ALLOW_TIMEOUT_SECONDS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			name := strings.ReplaceAll(c.name, " ", "-")
			qdir := ""
			if c.queue {
				qdir = t.TempDir()
			}
			f := newFixture(t, s, name, func(cfg *gitgate.Config, _ *manifest.Repo) {
				cfg.QueueDir, cfg.Slug, cfg.AllowTimeout = qdir, "test-abcde", c.timeout
			})
			work := f.gate.clone(t, name)
			sha := commitFile(t, work, "fixture_test.py", fixture, "fixture")
			var wg sync.WaitGroup
			if c.respond != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					answer(t, qdir, func(q *queue.Queue, p queue.Proposal) { c.respond(t, q, p) })
				}()
			}
			out, err := push(t, work, "main")
			wg.Wait()
			if (err == nil) != c.ok {
				t.Fatalf("push err = %v, want ok=%v:\n%s", err, c.ok, out)
			}
			if !strings.Contains(out, c.expect) {
				t.Errorf("output lacks %q:\n%s", c.expect, out)
			}
			if strings.Contains(out, secret) {
				t.Errorf("output shows the secret:\n%s", out)
			}
			landed := refOf(t, f.bare, "refs/heads/main") == sha
			if landed != c.ok {
				t.Errorf("landed upstream = %v, want %v", landed, c.ok)
			}
			if qdir != "" && c.respond != nil {
				// The gate archived the pair after reading the answer.
				ps, _ := queue.New(qdir).Pending()
				left, _ := filepath.Glob(filepath.Join(qdir, "*.json"))
				done, _ := filepath.Glob(filepath.Join(qdir, queue.ProcessedDir, "*.json"))
				if len(ps) != 0 || len(left) != 0 || len(done) != 2 {
					t.Errorf("queue not archived: pending %d, left %v, processed %v", len(ps), left, done)
				}
			}
		})
	}
}

func checkPayload(t *testing.T, p queue.Proposal, payload *gitgate.AllowPayload) {
	t.Helper()
	if p.BottleSlug != "test-abcde" || !strings.Contains(p.Justification, "test fixtures or confirmed false positives") {
		t.Errorf("proposal = %+v", p)
	}
	if strings.Contains(p.ProposedFile, secret) {
		t.Errorf("proposal carries the secret: %s", p.ProposedFile)
	}
	if err := jsonUnmarshal(p.ProposedFile, payload); err != nil {
		t.Fatalf("payload: %v", err)
	}
	if payload.Ref != "refs/heads/main" || len(payload.Findings) != 1 {
		t.Fatalf("payload = %+v", payload)
	}
	fnd := payload.Findings[0]
	if fnd.File != "fixture_test.py" || fnd.Line != 1 || fnd.Rule != "github-pat" || len(fnd.Commit) != 40 ||
		!strings.Contains(fnd.RedactedLine, "REDACTED") {
		t.Errorf("finding = %+v", fnd)
	}
}

func TestForcePushAndDeletion(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	for _, allow := range []bool{false, true} {
		name := map[bool]string{false: "strict", true: "lenient"}[allow]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, s, name, func(_ *gitgate.Config, r *manifest.Repo) { r.AllowForcePush = allow })
			work := f.gate.clone(t, name)
			commitFile(t, work, "a.txt", "a\n", "a")
			if out, err := push(t, work, "main", "main:refs/heads/gone"); err != nil {
				t.Fatalf("push: %v\n%s", err, out)
			}
			must(t, work, "reset", "-q", "--hard", "HEAD~1")
			rewritten := commitFile(t, work, "b.txt", "b\n", "rewritten")
			out, err := push(t, work, "--force", "main")
			if allow != (err == nil) {
				t.Fatalf("force push err = %v (allow %v):\n%s", err, allow, out)
			}
			if !allow && !strings.Contains(out, "force push to refs/heads/main refused") {
				t.Errorf("output:\n%s", out)
			}
			if got := refOf(t, f.bare, "refs/heads/main") == rewritten; got != allow {
				t.Errorf("upstream rewritten = %v, want %v", got, allow)
			}
			out, err = push(t, work, "--delete", "gone")
			if allow != (err == nil) {
				t.Fatalf("delete err = %v (allow %v):\n%s", err, allow, out)
			}
			if !allow && !strings.Contains(out, "deletion of refs/heads/gone refused") {
				t.Errorf("output:\n%s", out)
			}
			if gone := refOf(t, f.bare, "refs/heads/gone") == ""; gone != allow {
				t.Errorf("upstream branch deleted = %v, want %v", gone, allow)
			}
		})
	}
}

func TestUpstreamRejectsOneRef(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	f := newFixture(t, s, "partial", nil)
	// The upstream refuses one branch and records push options.
	hook := "#!/bin/sh\nenv | grep '^GIT_PUSH_OPTION_[0-9]' > " + f.bare + "/options\n" +
		"while read old new ref; do\n  if [ \"$ref\" = refs/heads/blocked ]; then echo 'blocked by policy' >&2; exit 1; fi\ndone\n"
	if err := os.WriteFile(filepath.Join(f.bare, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, f.bare, "config", "receive.advertisePushOptions", "true")
	before := refOf(t, f.bare, "refs/heads/main")
	work := f.gate.clone(t, "partial")
	commitFile(t, work, "a.txt", "a\n", "a")
	out, err := push(t, work, "-o", "ci.skip", "main", "main:refs/heads/blocked")
	if err == nil {
		t.Fatalf("push succeeded although the upstream refused a ref:\n%s", out)
	}
	for _, w := range []string{"upstream: remote: blocked by policy", "refs/heads/blocked: REJECTED", "not every ref reached the upstream"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if refOf(t, f.bare, "refs/heads/main") != before || refOf(t, f.bare, "refs/heads/blocked") != "" {
		t.Error("upstream changed although its hook refused the push")
	}
	opts, _ := os.ReadFile(filepath.Join(f.bare, "options"))
	if !strings.Contains(string(opts), "GIT_PUSH_OPTION_0=ci.skip") {
		t.Errorf("push option not passed upstream: %q", opts)
	}
	mirror := filepath.Join(f.gate.state, "mirrors", "partial.git")
	if refOf(t, mirror, "refs/heads/main") != before {
		t.Error("mirror moved although the upstream refused")
	}
}

func TestUpstreamDown(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	f := newFixture(t, s, "down", nil)
	work := f.gate.clone(t, "down")
	commitFile(t, work, "a.txt", "a\n", "a")
	s.stop()

	out, err := run(t, work, "fetch", "origin")
	if err == nil || !strings.Contains(out, "upstream unreachable, refusing to serve stale refs") {
		t.Errorf("fetch with upstream down: err %v\n%s", err, out)
	}
	out, err = push(t, work, "main")
	if err == nil || !strings.Contains(out, "upstream unreachable") {
		t.Errorf("push with upstream down: err %v\n%s", err, out)
	}
	out, err = run(t, t.TempDir(), "clone", f.gate.url("down"), "c")
	if err == nil || !strings.Contains(out, "upstream unreachable") {
		t.Errorf("clone with upstream down: err %v\n%s", err, out)
	}
}

func TestUnknownRepo(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	f := newFixture(t, s, "known", nil)
	out, err := run(t, t.TempDir(), "clone", f.gate.url("nope"), "c")
	if err == nil || !strings.Contains(out, "not found") {
		t.Errorf("clone of an unknown repo: err %v\n%s", err, out)
	}
	resp, err := httpGet(f.gate.url("nope") + "/info/refs?service=git-upload-pack")
	if err != nil {
		t.Fatal(err)
	}
	if resp.code != 404 || !strings.Contains(resp.body, `no repository "nope" here; declared repos: known`) {
		t.Errorf("GET unknown repo = %d %q", resp.code, resp.body)
	}
}

func TestConcurrentPushesToTwoRepos(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	names := []string{"one", "two"}
	repos := map[string]manifest.Repo{}
	bares := map[string]string{}
	for _, n := range names {
		bares[n] = s.upstreamRepo(t, n)
		repos[n] = s.repo(bares[n])
	}
	g := startGate(t, gitgate.Config{Repos: repos})
	works, shas := map[string]string{}, map[string]string{}
	for _, n := range names {
		works[n] = g.clone(t, n)
		for i := range 3 {
			shas[n] = commitFile(t, works[n], n+".txt", strings.Repeat(n, i+1)+"\n", n)
		}
	}
	var wg sync.WaitGroup
	outs := make(chan string, 2)
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := push(t, works[n], "main"); err != nil {
				outs <- n + ": " + err.Error() + "\n" + out
			}
		}()
	}
	wg.Wait()
	close(outs)
	for o := range outs {
		t.Errorf("push failed: %s", o)
	}
	for _, n := range names {
		if got := refOf(t, bares[n], "refs/heads/main"); got != shas[n] {
			t.Errorf("upstream %s main = %s, want %s", n, got, shas[n])
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := manifest.Repo{URL: "git@example.com:a/b.git", HostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", Key: manifest.RepoKey{Provider: "static", Path: key}}
	cases := map[string]func(r *manifest.Repo) string{
		"https url":    func(r *manifest.Repo) string { r.URL = "https://example.com/a.git"; return "a" },
		"no host key":  func(r *manifest.Repo) string { r.HostKey = ""; return "a" },
		"bad provider": func(r *manifest.Repo) string { r.Key.Provider = "vault"; return "a" },
		"missing key":  func(r *manifest.Repo) string { r.Key.Path = key + ".missing"; return "a" },
		"bad name":     func(r *manifest.Repo) string { return "../x" },
		"git suffix":   func(r *manifest.Repo) string { return "x.git" },
		"option host":  func(r *manifest.Repo) string { r.URL = "ssh://-oProxyCommand=x/a"; return "a" },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			r := good
			n := mod(&r)
			_, err := gitgate.New(gitgate.Config{Listen: "127.0.0.1:0", StateDir: t.TempDir(), BinaryPath: binPath, Repos: map[string]manifest.Repo{n: r}})
			if err == nil {
				t.Error("New accepted a bad repo")
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv, err := gitgate.New(gitgate.Config{Listen: "127.0.0.1:0", StateDir: t.TempDir(), BinaryPath: binPath, Repos: map[string]manifest.Repo{"a": good}})
	if err != nil {
		t.Fatalf("New rejected a good repo: %v", err)
	}
	if err := srv.Run(ctx); err != nil {
		t.Error(err)
	}
}
