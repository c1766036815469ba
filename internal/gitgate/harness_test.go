package gitgate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/gitgate"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// binPath is the bot-bottle binary built by TestMain: the hook runs it.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gitgate-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binPath = filepath.Join(dir, "bot-bottle")
	out, err := exec.Command("go", "build", "-o", binPath, "github.com/bot-bottle/bot-bottle/cmd/bot-bottle").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building bot-bottle: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// A GitHub token shape gitleaks' default rules find (random, not real).
const secret = "ghp_R8sXq2LpVn4Tz7KmWc9YbJ3hFd6GtA1sEoUi"

// gitEnv isolates git from the machine's and the user's config.
func gitEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasSuffix(strings.ToLower(k), "_proxy") {
			env = append(env, kv)
		}
	}
	return append(env,
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=agent", "GIT_AUTHOR_EMAIL=agent@example.com",
		"GIT_COMMITTER_NAME=agent", "GIT_COMMITTER_EMAIL=agent@example.com",
	)
}

// run runs git in dir and returns combined output and the error.
func run(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func must(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := run(t, dir, args...)
	if err != nil {
		t.Fatalf("git %v in %s: %v\n%s", args, dir, err, out)
	}
	return strings.TrimSpace(out)
}

// sshd is a real OpenSSH server on loopback serving bare repos.
type sshd struct {
	dir     string
	port    int
	hostKey string // "TYPE BASE64 comment"
	key     string // client private key path
	user    string
	cmd     *exec.Cmd
	once    sync.Once
}

func startSSHD(t *testing.T) *sshd {
	t.Helper()
	bin, err := exec.LookPath("sshd")
	if err != nil {
		bin = "/usr/sbin/sshd"
	}
	_, statErr := os.Stat(bin)
	testenv.Require(t, "sshd", statErr == nil, "the upstream of git-gate tests is a real OpenSSH server (Debian: openssh-server)")
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &sshd{dir: dir, user: u.Username, key: filepath.Join(dir, "client_key")}
	for _, k := range []string{"host_key", "client_key"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	hk, err := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	s.hostKey = strings.TrimSpace(string(hk))
	ck, err := os.ReadFile(filepath.Join(dir, "client_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ck, 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd wants its privilege separation directory when run as root.
		_ = os.MkdirAll("/run/sshd", 0o755)
	}
	s.port = freePort(t)
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowUsers %s
PidFile %s
LogLevel ERROR
`, s.port, filepath.Join(dir, "host_key"), filepath.Join(dir, "authorized_keys"), s.user, filepath.Join(dir, "sshd.pid"))
	cfg := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "-D", "-e", "-f", cfg)
	s.cmd.Stderr = &testWriter{t: t, prefix: "sshd: "}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %d", s.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

func (s *sshd) stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
}

// testWriter logs a child's stderr into the test log.
type testWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer func() { _ = recover() }() // the test may have ended
	w.t.Log(w.prefix + strings.TrimSpace(string(p)))
	return len(p), nil
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// upstreamRepo makes a bare repo served by s with one commit on main and
// returns its directory.
func (s *sshd) upstreamRepo(t *testing.T, name string) string {
	t.Helper()
	bare := filepath.Join(s.dir, "repos", name+".git")
	must(t, s.dir, "init", "-q", "--bare", "-b", "main", bare)
	seed := t.TempDir()
	must(t, seed, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(seed, "README"), []byte("upstream "+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, seed, "add", "README")
	must(t, seed, "commit", "-q", "-m", "initial")
	must(t, seed, "push", "-q", bare, "main")
	return bare
}

func (s *sshd) url(bare string) string {
	return fmt.Sprintf("ssh://%s@127.0.0.1:%d%s", s.user, s.port, bare)
}

func (s *sshd) repo(bare string) manifest.Repo {
	return manifest.Repo{
		URL:     s.url(bare),
		HostKey: s.hostKey,
		Key:     manifest.RepoKey{Provider: "static", Path: s.key},
	}
}

// gate is a running git-gate.
type gate struct {
	srv   *gitgate.Server
	base  string
	state string
	log   string
}

func startGate(t *testing.T, cfg gitgate.Config) *gate {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	cfg.BinaryPath = binPath
	if cfg.HookLog == "" {
		cfg.HookLog = filepath.Join(cfg.StateDir, "push.jsonl")
	}
	srv, err := gitgate.New(cfg)
	if err != nil {
		t.Fatalf("gitgate.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &gate{srv: srv, base: "http://" + srv.Addr().String(), state: cfg.StateDir, log: cfg.HookLog}
}

// pushLog is the hook's decision log so far.
func (g *gate) pushLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(g.log)
	if err != nil {
		t.Fatalf("reading push log: %v", err)
	}
	return string(b)
}

func (g *gate) url(name string) string { return g.base + "/" + name + ".git" }

// clone clones name through the gate into a new directory.
func (g *gate) clone(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	must(t, filepath.Dir(dir), "clone", "-q", g.url(name), dir)
	return dir
}

func commitFile(t *testing.T, dir, file, content, msg string) string {
	t.Helper()
	p := filepath.Join(dir, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, dir, "add", file)
	must(t, dir, "commit", "-q", "-m", msg)
	return must(t, dir, "rev-parse", "HEAD")
}

// refOf reads ref in a bare repo ("" when missing).
func refOf(t *testing.T, bare, ref string) string {
	t.Helper()
	out, err := run(t, bare, "rev-parse", "--verify", "-q", ref)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

type httpResp struct {
	code int
	body string
}

func httpGet(url string) (httpResp, error) {
	resp, err := http.Get(url)
	if err != nil {
		return httpResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return httpResp{code: resp.StatusCode, body: string(b)}, err
}
