package scan

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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

// scanNew scans tip as a push against every ref but the scratch branch.
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
		{"vendor path", func(r *repo) string {
			r.branch("work")
			return r.commit("vendor/github.com/x/y/k.go", line, "vendored")
		}, []string{"vendor/github.com/x/y/k.go:1"}, nil},
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

func places(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.File+":"+strconv.Itoa(f.Line))
	}
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
	long := strings.Repeat("a", 500) + secret + strings.Repeat("b", 500)
	if got := redactLine(reportFinding(long, secret)); !strings.Contains(got, "REDACTED") || len(got) > maxLine+10 {
		t.Errorf("redactLine of long line = %q", got)
	}
}
