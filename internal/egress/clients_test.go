package egress

import (
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// cleanEnv keeps the user's proxy settings and git config out of a child.
func cleanEnv(home string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C"}
}

func TestCurlThroughProxy(t *testing.T) {
	_, err := exec.LookPath("curl")
	testenv.Require(t, "curl", err == nil, "curl is not on PATH")
	up := newUpstream(t, true)
	p := startProxy(t, up, basePolicy, nil)
	curl := func(args ...string) (string, string, error) {
		cmd := exec.Command("curl", append([]string{"-sS", "-v", "--proxy", p.url.String(), "--cacert", p.caFile(t)}, args...)...)
		cmd.Env = cleanEnv(t.TempDir())
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	out, stderr, err := curl("-H", "Authorization: Bearer placeholder", "https://up.example.com:"+up.port+"/v1/hello")
	if err != nil || !strings.Contains(out, `"/v1/hello"`) {
		t.Fatalf("curl: %v\n%s\n%s", err, out, stderr)
	}
	if r, _ := up.seen.last(t); r.Header.Get("Authorization") != "Bearer real-upstream-token-0123456789abcdef" {
		t.Errorf("token not injected for curl: %q", r.Header.Get("Authorization"))
	}
	// A refused CONNECT: curl drops the body, so the reason must be in
	// the status line it prints.
	_, stderr, err = curl("https://nowhere.example.com:" + up.port + "/")
	if err == nil || !strings.Contains(stderr, "(no-route): no egress route allows host nowhere.example.com") {
		t.Fatalf("curl did not show the reason: %v\n%s", err, stderr)
	}
	// A refusal inside the tunnel: body and header reach curl.
	out, stderr, _ = curl("https://up.example.com:" + up.port + "/admin")
	if !strings.Contains(out, "reason (no-match)") || !strings.Contains(strings.ToLower(stderr), "x-bot-bottle-refusal: no-match") {
		t.Fatalf("refusal not shown:\n%s\n%s", out, stderr)
	}
}

// gitUpstream serves bare repositories under root over HTTPS with git's
// own smart-HTTP backend.
func gitUpstream(t *testing.T, root string) *upstream { return gitUpstreamAuth(t, root, "") }

// gitUpstreamAuth is gitUpstream answering only requests whose
// Authorization header is wantAuth (when set), with a 401 asking for
// Basic otherwise, as a forge does.
func gitUpstreamAuth(t *testing.T, root, wantAuth string) *upstream {
	t.Helper()
	backend, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	h := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(backend)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	u := &upstream{seen: &seen{}}
	u.start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.seen.mu.Lock()
		u.seen.reqs = append(u.seen.reqs, r)
		u.seen.body = append(u.seen.body, nil)
		u.seen.mu.Unlock()
		if wantAuth != "" && r.Header.Get("Authorization") != wantAuth {
			w.Header().Set("WWW-Authenticate", `Basic realm="forge"`)
			http.Error(w, "credentials required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}), true)
	return u
}

// gitRepo makes root/repo.git (one commit, "first") and returns root and
// a func running the real git with a clean environment.
func gitRepo(t *testing.T) (string, func(dir string, args ...string) (string, error)) {
	t.Helper()
	_, err := exec.LookPath("git")
	testenv.Require(t, "git", err == nil, "git is not on PATH")
	home := t.TempDir()
	git := func(dir string, args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = cleanEnv(home)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	root := t.TempDir()
	work := filepath.Join(t.TempDir(), "work")
	os.MkdirAll(work, 0o755)
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "first"},
		{"clone", "-q", "--bare", work, filepath.Join(root, "repo.git")},
	} {
		if out, err := git(work, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return root, git
}

func TestGitCloneThroughProxy(t *testing.T) {
	root, git := gitRepo(t)
	home := t.TempDir()
	up := gitUpstream(t, root)
	url := "https://up.example.com:" + up.port + "/repo.git"
	proxied := func(p *proxy) []string {
		return []string{"-c", "http.proxy=" + p.url.String(), "-c", "http.sslCAInfo=" + p.caFile(t)}
	}

	t.Run("fetch allowed", func(t *testing.T) {
		p := startProxy(t, up, "egress:\n  routes:\n    - host: up.example.com\n      git: {fetch: true}\n", nil)
		dest := filepath.Join(t.TempDir(), "clone")
		if out, err := git(home, append(proxied(p), "clone", "-q", url, dest)...); err != nil {
			t.Fatalf("clone: %v\n%s", err, out)
		}
		if out, err := git(dest, "log", "--format=%s"); err != nil || strings.TrimSpace(out) != "first" {
			t.Fatalf("cloned log = %q %v", out, err)
		}
		before := up.seen.count()
		out, err := git(dest, append(proxied(p), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "second")...)
		if err != nil {
			t.Fatal(out)
		}
		out, err = git(dest, append(proxied(p), "push", "origin", "main")...)
		if err == nil || !strings.Contains(out, "403") {
			t.Fatalf("push went through: %v\n%s", err, out)
		}
		if up.seen.count() != before {
			t.Error("a push request reached the upstream")
		}
		if !strings.Contains(p.logText(), `"code":"git-push"`) {
			t.Error("push refusal not logged")
		}
	})

	t.Run("fetch needs git.fetch", func(t *testing.T) {
		p := startProxy(t, up, "egress:\n  routes:\n    - host: up.example.com\n", nil)
		out, err := git(home, append(proxied(p), "clone", "-q", url, filepath.Join(t.TempDir(), "c"))...)
		if err == nil || !strings.Contains(out, "403") {
			t.Fatalf("clone without git.fetch: %v\n%s", err, out)
		}
		if !strings.Contains(p.logText(), `"code":"git-fetch"`) {
			t.Error("git-fetch refusal not logged")
		}
	})
}

// TestCurlHTTP2ThroughProxy: real curl asks for h2 inside the tunnel; the
// MITM must negotiate it (agent-side h2) and still inject and answer.
func TestCurlHTTP2ThroughProxy(t *testing.T) {
	_, err := exec.LookPath("curl")
	testenv.Require(t, "curl", err == nil, "curl is not on PATH")
	up := newUpstream(t, true)
	p := startProxy(t, up, basePolicy, nil)
	cmd := exec.Command("curl", "-sS", "-v", "--http2", "-w", "\nproto=%{http_version}\n",
		"--proxy", p.url.String(), "--cacert", p.caFile(t),
		"-H", "Authorization: Bearer placeholder", "https://up.example.com:"+up.port+"/v1/hello")
	cmd.Env = cleanEnv(t.TempDir())
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), `"/v1/hello"`) {
		t.Fatalf("curl --http2: %v\n%s\n%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "proto=2") || !strings.Contains(errb.String(), "ALPN: server accepted h2") {
		t.Fatalf("HTTP/2 was not negotiated with the MITM:\n%s\n%s", out.String(), errb.String())
	}
	if r, _ := up.seen.last(t); r.Header.Get("Authorization") != "Bearer real-upstream-token-0123456789abcdef" {
		t.Errorf("token not injected over h2: %q", r.Header.Get("Authorization"))
	}
}
