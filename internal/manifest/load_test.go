package manifest

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the want files in testdata")

// copyTree copies testdata dir src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// homeFrom makes a home directory whose ~/.bot-bottle holds the case's
// bottles/ and agents/.
func homeFrom(t *testing.T, dir string) string {
	t.Helper()
	home := t.TempDir()
	copyTree(t, dir, filepath.Join(home, ".bot-bottle"))
	return home
}

func lines(ps Problems) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestInvalid loads each testdata/invalid/CASE as a user's ~/.bot-bottle and
// compares what "manifest check" would print with CASE.want, line for line.
func TestInvalid(t *testing.T) {
	cases, err := os.ReadDir("testdata/invalid")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join("testdata/invalid", c.Name())
			home := homeFrom(t, dir)
			set := Load(home, "")
			got := lines(set.Check())
			wantFile := dir + ".want"
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("reading want (run with -update to create): %v", err)
			}
			if got == "" {
				t.Fatalf("no problems reported")
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// One unknown key does not hide the bottle's other problems: manifest
// check reports every problem at once.
func TestUnknownKeyDoesNotHideOtherProblems(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".bot-bottle/bottles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "---\negress:\n  routes:\n    - host: \"bad host\"\n  frob: 1\nenv: {\"1BAD\": x}\nfrobnicate: 1\n---\n"
	if err := os.WriteFile(filepath.Join(dir, "b.md"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	got := lines(Load(home, "").Check())
	for _, want := range []string{
		`b.md:4: egress.routes[0].host: "bad host" is not a host name`,
		`b.md:5: egress: unknown key "frob"`,
		`b.md:6: env.1BAD: "1BAD" is not an env var name`,
		`b.md:7: unknown key "frobnicate" in bottle`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}
