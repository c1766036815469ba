package scan

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
)

// A GitHub token shape gitleaks' default rules find (random, not real).
const secret = "ghp_R8sXq2LpVn4Tz7KmWc9YbJ3hFd6GtA1sEoUi"

type repo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	r.commit("README", "hello\n", "initial")
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *repo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *repo) commit(name, content, msg string) string {
	r.t.Helper()
	r.write(name, content)
	r.git("add", name)
	r.git("commit", "-q", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// scan scans tips as a push to an upstream that has main.
func (r *repo) scan(tips ...string) []Finding {
	r.t.Helper()
	rules, err := DefaultRules()
	if err != nil {
		r.t.Fatal(err)
	}
	fs, err := rules.Scan(context.Background(), Push{GitDir: r.dir, Tips: tips, Exclude: []string{"main"}})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, f := range fs {
		if strings.Contains(f.String(), secret) {
			r.t.Errorf("finding not redacted: %s", f)
		}
	}
	return fs
}

func (r *repo) branch(name string) { r.git("checkout", "-q", "-B", name) }

func TestScan(t *testing.T) {
	t.Parallel()
	line := "token = \"" + secret + "\"\n"
	cases := []struct {
		name  string
		build func(r *repo) string // returns the tip
		want  []string             // file:line of blocking findings
		allow []string             // file:line of suppressed findings
	}{
		{"clean", func(r *repo) string {
			r.branch("work")
			r.commit("a.txt", "nothing here\n", "clean")
			return r.commit("b.txt", "still nothing\n", "clean 2")
		}, nil, nil},
		{"newest commit", func(r *repo) string {
			r.branch("work")
			r.commit("a.txt", "x\n", "one")
			return r.commit("conf.py", "a = 1\n"+line, "two")
		}, []string{"conf.py:2"}, nil},
		{"older commit", func(r *repo) string {
			r.branch("work")
			r.commit("conf.py", line, "leak")
			r.commit("conf.py", "gone\n", "remove")
			return r.commit("b.txt", "x\n", "three")
		}, []string{"conf.py:1"}, nil},
		{"merged side branch", func(r *repo) string {
			r.branch("side")
			r.commit("side.py", line, "side leak")
			r.git("checkout", "-q", "main")
			r.branch("work")
			r.commit("w.txt", "w\n", "work")
			r.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
			return r.git("rev-parse", "HEAD")
		}, []string{"side.py:1"}, nil},
		{"evil merge", func(r *repo) string {
			r.branch("side")
			r.commit("side.txt", "s\n", "side")
			r.git("checkout", "-q", "main")
			r.branch("work")
			r.commit("w.txt", "w\n", "work")
			r.git("merge", "-q", "--no-ff", "--no-commit", "side")
			r.write("evil.py", line)
			r.git("add", "evil.py")
			r.git("commit", "-q", "-m", "evil merge")
			return r.git("rev-parse", "HEAD")
		}, []string{"evil.py:1"}, nil},
		{"merge brings upstream content", func(r *repo) string {
			// main (upstream) already holds a secret; merging it into a
			// branch must not be blamed on the push.
			r.git("checkout", "-q", "-b", "work")
			r.commit("w.txt", "w\n", "work")
			r.git("checkout", "-q", "main")
			r.commit("old.py", line, "old secret upstream")
			r.git("checkout", "-q", "work")
			r.git("merge", "-q", "--no-ff", "-m", "merge main", "main")
			return r.git("rev-parse", "HEAD")
		}, nil, nil},
		{"commit message", func(r *repo) string {
			r.branch("work")
			return r.commit("a.txt", "x\n", "oops\n\n"+line)
		}, []string{CommitMessage + ":3"}, nil},
		{"annotated tag", func(r *repo) string {
			r.git("tag", "-a", "v1", "-m", "release\n\n"+line)
			return r.git("rev-parse", "v1")
		}, []string{TagMessage + ":3"}, nil},
		{"binary file", func(r *repo) string {
			r.branch("work")
			return r.commit("blob.dat", "\x00\x01binary\x00"+line, "bin")
		}, []string{"blob.dat:1"}, nil},
		{"modified file", func(r *repo) string {
			r.branch("work")
			return r.commit("README", "hello\n"+line, "edit")
		}, []string{"README:2"}, nil},
		{"modified binary file", func(r *repo) string {
			r.commit("blob.dat", "\x00\x01binary\x00\n", "bin")
			r.branch("work")
			return r.commit("blob.dat", "\x00\x01binary\x00\n"+line, "bin leak")
		}, []string{"blob.dat:2"}, nil},
		{"type change", func(r *repo) string {
			r.branch("work")
			if err := os.Symlink("README", filepath.Join(r.dir, "link")); err != nil {
				r.t.Fatal(err)
			}
			r.git("add", "link")
			r.git("commit", "-q", "-m", "link")
			if err := os.Remove(filepath.Join(r.dir, "link")); err != nil {
				r.t.Fatal(err)
			}
			return r.commit("link", line, "now a file")
		}, []string{"link:1"}, nil},
		{"one blob, two paths and two commits", func(r *repo) string {
			r.branch("work")
			r.commit("a.py", line, "first")
			r.git("rm", "-q", "a.py")
			r.git("commit", "-q", "-m", "gone")
			r.commit("a.py", line, "back")
			return r.commit("b.py", line, "copy")
		}, []string{"a.py:1", "a.py:1", "b.py:1"}, nil},
		{"token written as unicode escapes", func(r *repo) string {
			r.branch("work")
			return r.commit("esc.json", unicodeEscaped(`\\u`, `{"t": "`, secret, "\"}\n"), "escaped")
		}, []string{"esc.json:1"}, nil},
		{"vendor path", func(r *repo) string {
			r.branch("work")
			return r.commit("vendor/github.com/x/y/k.go", line, "vendored")
		}, []string{"vendor/github.com/x/y/k.go:1"}, nil},
		{"odd file name", func(r *repo) string {
			r.branch("work")
			r.commit("sp ace\"quote é\ttab.txt", "fine\n", "odd")
			return r.commit("a dir/new\nline.py", line, "odd leak")
		}, []string{"a dir/new\nline.py:1"}, nil},
		{"empty file and mode change", func(r *repo) string {
			r.branch("work")
			r.commit("empty", "", "empty")
			if err := os.Chmod(filepath.Join(r.dir, "README"), 0o755); err != nil {
				r.t.Fatal(err)
			}
			r.git("add", "README")
			r.git("commit", "-q", "-m", "mode")
			return r.git("rev-parse", "HEAD")
		}, nil, nil},
		{"rule path allowlist", func(r *repo) string {
			r.branch("work")
			return r.commit("x/@octokit/auth-token/README.md", "see "+secret+"\n", "allowlisted path")
		}, []string{"x/@octokit/auth-token/README.md:1"}, nil},
		{"gitleaks allow", func(r *repo) string {
			r.branch("work")
			return r.commit("fixture.py", "token = \""+secret+"\" # gitleaks:allow\n", "fixture")
		}, nil, []string{"fixture.py:1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			tip := c.build(r)
			r.git("checkout", "-q", "main")
			got := r.scan(tip)
			block, sup := Blocking(got)
			if g := places(block); strings.Join(g, ",") != strings.Join(c.want, ",") {
				t.Errorf("blocking = %v, want %v", g, c.want)
			}
			if g := places(sup); strings.Join(g, ",") != strings.Join(c.allow, ",") {
				t.Errorf("suppressed = %v, want %v", g, c.allow)
			}
		})
	}
}

// places lists file:line of each finding, sorted.
func places(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.File+":"+strconv.Itoa(f.Line))
	}
	slices.Sort(out)
	return out
}

func reportFinding(line, secret string) report.Finding {
	return report.Finding{Line: line, Secret: secret}
}

func TestScanFailsClosed(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	rules, err := DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	_, err = rules.Scan(context.Background(), Push{GitDir: r.dir, Tips: []string{"0123456789012345678901234567890123456789"}})
	if err == nil {
		t.Fatal("scan of a missing object succeeded")
	}
}

func TestRedactLineWithholdsEncoded(t *testing.T) {
	t.Parallel()
	if got := redactLine(reportFinding("x = "+secret, secret)); strings.Contains(got, secret) || !strings.Contains(got, "REDACTED") {
		t.Errorf("redactLine = %q", got)
	}
	if got := redactLine(reportFinding("x = Z2hwX1I4c1hx", secret)); got != "(line withheld)" {
		t.Errorf("redactLine of encoded = %q", got)
	}
	if got := redactLine(reportFinding("a = [\n  \""+secret+"\"]", secret)); strings.Contains(got, "\n") {
		t.Errorf("redactLine of a multi-line finding = %q", got)
	}
	long := strings.Repeat("a", 500) + secret + strings.Repeat("b", 500)
	if got := redactLine(reportFinding(long, secret)); !strings.Contains(got, "REDACTED") || len(got) > maxLine+10 {
		t.Errorf("redactLine of long line = %q", got)
	}
}

// FuzzRedactLine: lines are the agent's; the secret must never come out.
func FuzzRedactLine(f *testing.F) {
	f.Add("token = "+secret, secret)
	f.Add(strings.Repeat("é", 300)+secret, secret)
	f.Fuzz(func(t *testing.T, line, sec string) {
		if sec == "" || len(sec) < 8 {
			return
		}
		got := redactLine(reportFinding(line, sec))
		if strings.Contains(got, sec) {
			t.Fatalf("redactLine(%q, %q) = %q shows the secret", line, sec, got)
		}
		if strings.ContainsAny(got, "\r\n") {
			t.Fatalf("redactLine(%q, %q) = %q spans lines", line, sec, got)
		}
	})
}

func TestChunksCoverEveryLine(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 20000 {
		b.WriteString("line " + strconv.Itoa(i+10) + " " + strings.Repeat("x", i%70) + "\n")
	}
	raw := b.String()
	cs := chunks(raw, 10)
	if len(cs) < 2 {
		t.Fatalf("%d chunks", len(cs))
	}
	covered := map[int]bool{}
	for _, c := range cs {
		for i, l := range strings.Split(strings.TrimSuffix(c.raw, "\n"), "\n") {
			if want := "line " + strconv.Itoa(c.line+i) + " "; !strings.HasPrefix(l, want) {
				t.Fatalf("chunk at line %d: line %d is %q", c.line, c.line+i, l[:min(len(l), 20)])
			}
			covered[c.line+i] = true
		}
	}
	if len(covered) != 20000 {
		t.Errorf("covered %d lines, want 20000", len(covered))
	}
}

// A PEM key across a chunk seam is still found, once.
func TestScanLargeFile(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.branch("work")
	var b strings.Builder
	for b.Len() < chunkSize-100 {
		b.WriteString("filler text line\n")
	}
	b.WriteString("x = \"" + secret + "\"\n")
	for b.Len() < 3*chunkSize {
		b.WriteString("more filler\n")
	}
	tip := r.commit("big.txt", b.String(), "big")
	r.git("checkout", "-q", "main")
	fs := r.scan(tip)
	if len(fs) != 1 || fs[0].Rule != "github-pat" {
		t.Fatalf("findings = %v", fs)
	}
	want := strings.Count(b.String()[:strings.Index(b.String(), secret)], "\n") + 1
	if fs[0].Line != want {
		t.Errorf("line = %d, want %d", fs[0].Line, want)
	}
}

func TestChunksWithoutNewlines(t *testing.T) {
	t.Parallel()
	raw := strings.Repeat("a", 10*chunkSize) + secret + strings.Repeat("b", 10*chunkSize)
	found := false
	for _, c := range chunks(raw, 1) {
		if len(c.raw) > 2*chunkSize {
			t.Fatalf("chunk of %d bytes", len(c.raw))
		}
		found = found || strings.Contains(c.raw, secret)
	}
	if !found {
		t.Error("the secret is split across every chunk")
	}
}

// A PEM key that straddles a chunk seam is found.
func TestScanPEMAtSeam(t *testing.T) {
	t.Parallel()
	rules, err := DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	body := benchData(2400, true) // ~3.2 KB of base64 lines, like RSA-4096
	pem := "-----BEGIN RSA PRIVATE KEY-----\n" + body + "-----END RSA PRIVATE KEY-----\n"
	for _, at := range []int{chunkSize - 1500, chunkSize - 200, chunkSize + 100} {
		var b strings.Builder
		for b.Len() < at {
			b.WriteString("filler line\n")
		}
		b.WriteString(pem)
		for b.Len() < 4*chunkSize {
			b.WriteString("more filler\n")
		}
		s := &scanner{det: detect.NewDetector(rules.cfg), inPass: map[string]bool{}, seen: map[string]int{}, all: map[string]Finding{}}
		s.detectOne(context.Background(), "c", "k.pem", b.String())
		if fs := s.result(); len(fs) != 1 || fs[0].Rule != "private-key" {
			t.Errorf("PEM at %d: findings %v", at, fs)
		}
	}
}

// A file the diff parser skipped fails the scan instead of passing unscanned.
func TestCheckParsedFailsClosed(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.commit("x y.txt", "x\n", "x")
	r.branch("work")
	tip := r.commit("x y.txt", "y\n", "modified")
	s := &scanner{push: Push{GitDir: r.dir, Tips: []string{tip}, Exclude: []string{"main"}}}
	changes, err := s.listChanges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].status != 'M' || changes[0].path != "x y.txt" || changes[0].commit != tip {
		t.Fatalf("changes = %+v", changes)
	}
	modified := map[string]change{tip + "\x00x y.txt": changes[0]}
	if err := checkParsed(modified, map[string]bool{}); err == nil || !strings.Contains(err.Error(), `"x y.txt"`) {
		t.Errorf("checkParsed with nothing parsed = %v", err)
	}
	if err := checkParsed(modified, map[string]bool{tip + "\x00x y.txt": true}); err != nil {
		t.Errorf("checkParsed with everything parsed = %v", err)
	}
}

// FuzzParseChanges: git log --raw output (whose paths the agent picks)
// never panics the parser, and what it returns is well formed.
func FuzzParseChanges(f *testing.F) {
	c := strings.Repeat("a", 40)
	f.Add([]byte("\x00" + c + "\x00\n:000000 100644 " + strings.Repeat("0", 40) + " " + strings.Repeat("b", 40) + " A\x00new\nline.py\x00"))
	f.Add([]byte("\x00" + c + "\x00\n:100644 100644 " + strings.Repeat("1", 40) + " " + strings.Repeat("2", 40) + " M\x00a\x00:120000 100644 " + strings.Repeat("3", 40) + " " + strings.Repeat("4", 40) + " T\x00l\x00"))
	f.Add([]byte(":100644 100644 x y M\x00a\x00"))
	f.Fuzz(func(t *testing.T, out []byte) {
		s := &scanner{}
		changes, err := s.parseChanges(out)
		if err != nil {
			return
		}
		for _, ch := range changes {
			if !isHexID(ch.commit) || !isHexID(ch.blob) || ch.status == 0 || ch.pass == 0 {
				t.Errorf("malformed change %+v from %q", ch, out)
			}
		}
	})
}
