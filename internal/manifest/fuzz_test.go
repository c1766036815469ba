package manifest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to every parser of manifest input: a
// bottle, an agent, and routes an agent proposes. None may panic; every
// problem is one line naming the file; what parses also validates.
func FuzzParse(f *testing.F) {
	_ = filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
		return nil
	})
	f.Add([]byte("---\na: &a [*a]\n---\n"))
	f.Add([]byte("---\nx: &x {a: [*x, *x, *x]}\ny: [*x, *x, *x, *x]\n---\n"))
	f.Add([]byte("- host: a.com\n  dlp: {outbound_detectors: false}\n"))
	f.Add([]byte("---\r\nenv:\r\n  A: b\r\n---\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkErr := func(err error) {
			if err == nil {
				return
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error is not Problems: %T %v", err, err)
			}
			for _, p := range ps {
				if p.File != "fuzz.md" || p.Message == "" || strings.ContainsAny(p.Message, "\n\r") {
					t.Fatalf("bad problem %#v", p)
				}
			}
		}
		b, _, err := ParseBottle("fuzz.md", data)
		checkErr(err)
		if err == nil {
			if errs := validateBottle(b); len(errs) > 0 {
				t.Fatalf("parsed bottle does not validate: %v", errs)
			}
			MergeBottles(b, b)
		}
		a, _, err := ParseAgent("fuzz.md", data)
		checkErr(err)
		if err == nil && len(validateAgent(a)) > 0 {
			t.Fatal("parsed agent does not validate")
		}
		rs, err := ParseRoutes("fuzz.md", data)
		checkErr(err)
		for _, r := range rs {
			if err := ValidateRoute(r); err != nil {
				t.Fatalf("parsed route does not validate: %v", err)
			}
		}
	})
}

// FuzzSSHURL checks that every spelling Forms writes for an upstream parses
// back to the same upstream, and that an scp-form upstream is among its own
// forms as written: git-gate's insteadOf rules depend on both.
func FuzzSSHURL(f *testing.F) {
	for _, s := range []string{"git@github.com:org/app.git", "ssh://git@h:2222/a/b", "ssh://[::1]:22/r.git", "h:r", "ssh://u@h/x.git", "root@h:/repos/x.git", "h:/srv/app", "git@10.0.0.5:/r.git"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseSSHURL(s)
		if err != nil {
			return
		}
		if !strings.Contains(s, "://") && !slices.Contains(u.Forms(), s) {
			t.Fatalf("%q: not among its forms %q", s, u.Forms())
		}
		for _, form := range u.Forms() {
			v, err := ParseSSHURL(form)
			if err != nil {
				t.Fatalf("%q: form %q does not parse: %v", s, form, err)
			}
			if v.User != u.User || v.Host != u.Host || v.Port != u.Port ||
				strings.TrimSuffix(v.Path, ".git") != strings.TrimSuffix(u.Path, ".git") {
				t.Fatalf("%q: form %q parses to %+v, want %+v", s, form, v, u)
			}
			if !slices.Contains(v.Forms(), form) {
				t.Fatalf("%q: form %q is not among its own forms %q", s, form, v.Forms())
			}
		}
	})
}
