package workspace

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// agentClone clones src (as copying it into a bottle does) and makes two
// commits there; it returns the clone.
func agentClone(t *testing.T, src string) string {
	t.Helper()
	clone := filepath.Join(t.TempDir(), "clone")
	gitT(t, filepath.Dir(clone), "clone", "-q", src, clone)
	writeFiles(t, clone, map[string]string{"agent.txt": "one\n"})
	gitT(t, clone, "add", "agent.txt")
	gitT(t, clone, "commit", "-q", "-m", "agent: one")
	writeFiles(t, clone, map[string]string{"agent.txt": "two\n"})
	gitT(t, clone, "commit", "-q", "-am", "agent: two")
	return clone
}

func baseOf(t *testing.T, dir string) Base {
	t.Helper()
	head, refs, err := HostRefs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return Base{Source: dir, Git: true, Head: head, Refs: refs}
}

func TestVerifyBundleAgainstTheSourceRepo(t *testing.T) {
	src := repo(t)
	base := baseOf(t, src)
	clone := agentClone(t, src)
	file := filepath.Join(t.TempDir(), "x.bundle")
	gitT(t, clone, append([]string{"bundle", "create", "-q", file, "HEAD", "--branches", "--not"}, base.Tips()...)...)

	h, err := VerifyBundle(file, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Prerequisites) != 1 || h.Prerequisites[0] != base.Head {
		t.Errorf("prerequisites %v, want [%s]", h.Prerequisites, base.Head)
	}
	// The host can fetch it.
	gitT(t, src, "fetch", "-q", file, "refs/heads/main:refs/remotes/bottle/main")
	if n := gitT(t, src, "rev-list", "--count", "main..bottle/main"); n != "2" {
		t.Errorf("fetched %s new commits, want 2", n)
	}
	// Without the source repository the prerequisite is unknown.
	if _, err := VerifyBundle(file, Base{Source: t.TempDir(), Git: true}); err == nil {
		t.Error("verified against a directory that is no repository")
	}
	if _, err := VerifyBundle(file, Base{}); err == nil || !strings.Contains(err.Error(), "needs 1 commits") {
		t.Errorf("err = %v, want prerequisites refused without a source repository", err)
	}
}

func TestVerifyBundleRefusesOtherHistory(t *testing.T) {
	src := repo(t)
	other := repo(t)
	writeFiles(t, other, map[string]string{"main.go": "package other\n"})
	gitT(t, other, "commit", "-q", "-am", "other history")
	clone := agentClone(t, other)
	file := filepath.Join(t.TempDir(), "x.bundle")
	gitT(t, clone, "bundle", "create", "-q", file, "HEAD", "--not", "HEAD~2")
	if _, err := VerifyBundle(file, baseOf(t, src)); err == nil {
		t.Error("a bundle built on commits the user does not have was verified")
	}
}

func TestVerifyBundleRefusesGarbage(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"not a bundle": "hello\n",
		"bad ref":      "# v2 git bundle\n" + strings.Repeat("a", 40) + " refs/heads/x\x1b[2J\n\nPACK",
		"cut pack":     "# v2 git bundle\n" + strings.Repeat("a", 40) + " refs/heads/x\n\nPACK",
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
			os.WriteFile(file, []byte(data), 0o600)
			if _, err := VerifyBundle(file, Base{}); err == nil {
				t.Error("verified")
			}
		})
	}
}

func TestParseBundleHeader(t *testing.T) {
	sha := strings.Repeat("b", 40)
	h, err := ParseBundleHeader(strings.NewReader("# v3 git bundle\n@object-format=sha1\n-" + sha + " base commit\n" + sha + " refs/heads/main\n" + sha + " HEAD\n\nPACK..."))
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 3 || len(h.Prerequisites) != 1 || len(h.Refs) != 2 || h.Refs[1].Name != "HEAD" {
		t.Errorf("header = %+v", h)
	}
	for name, in := range map[string]string{
		"no refs":       "# v2 git bundle\n\n",
		"short sha":     "# v2 git bundle\nabc refs/heads/x\n\n",
		"dotdot":        "# v2 git bundle\n" + sha + " refs/heads/../x\n\n",
		"capability v2": "# v2 git bundle\n@object-format=sha1\n" + sha + " HEAD\n\n",
		"unknown cap":   "# v3 git bundle\n@filter=blob:none\n" + sha + " HEAD\n\n",
		"no end":        "# v2 git bundle\n" + sha + " HEAD\n",
	} {
		if _, err := ParseBundleHeader(strings.NewReader(in)); !errors.Is(err, ErrNotBundle) {
			t.Errorf("%s: err = %v, want ErrNotBundle", name, err)
		}
	}
}

func FuzzParseBundleHeader(f *testing.F) {
	sha := strings.Repeat("c", 40)
	f.Add([]byte("# v2 git bundle\n-" + sha + " x\n" + sha + " refs/heads/main\n\nPACK"))
	f.Add([]byte("# v3 git bundle\n@object-format=sha256\n" + strings.Repeat("d", 64) + " HEAD\n\n"))
	f.Add([]byte("# v2 git bundle\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseBundleHeader(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, r := range h.Refs {
			if !refPattern.MatchString(r.Name) || !shaPattern.MatchString(r.SHA) || CleanText(r.Name) != r.Name {
				t.Fatalf("accepted ref %q %q", r.Name, r.SHA)
			}
		}
	})
}

func TestSplitPatchesFromFormatPatch(t *testing.T) {
	src := repo(t)
	clone := agentClone(t, src)
	mbox := gitT(t, clone, "format-patch", "--stdout", "HEAD~2..HEAD")
	patches, err := SplitPatches([]byte(mbox + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(patches) != 2 || patches[0].Name != "0001-agent-one.patch" || patches[1].Name != "0002-agent-two.patch" {
		t.Fatalf("patches: %v", patchNames(patches))
	}
	// The series applies with git am on the source.
	dir := t.TempDir()
	for _, p := range patches {
		os.WriteFile(filepath.Join(dir, p.Name), p.Data, 0o644)
	}
	gitT(t, src, "am", "-q", filepath.Join(dir, patches[0].Name), filepath.Join(dir, patches[1].Name))
	if got := gitT(t, src, "show", "HEAD:agent.txt"); got != "two" {
		t.Errorf("after git am agent.txt = %q", got)
	}
}

func patchNames(ps []Patch) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestSplitPatchesNames(t *testing.T) {
	from := "From " + strings.Repeat("e", 40) + " Mon Sep 17 00:00:00 2001\n"
	in := from + "Subject: [PATCH 1/2] ../../etc/passwd \x1b[31m!!\n\nbody\n" + from + "Subject: \n\n"
	ps, err := SplitPatches([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := patchNames(ps); got[0] != "0001-etc-passwd-31m.patch" || got[1] != "0002-patch.patch" {
		t.Errorf("names = %v", got)
	}
	if _, err := SplitPatches([]byte("junk\n" + from)); err == nil {
		t.Error("text before the first patch accepted")
	}
	if _, err := SplitPatches(nil); !errors.Is(err, ErrNoPatches) {
		t.Errorf("empty: %v", err)
	}
}

func FuzzSplitPatches(f *testing.F) {
	from := "From " + strings.Repeat("e", 40) + " Mon Sep 17 00:00:00 2001\n"
	f.Add([]byte(from + "Subject: [PATCH] hello world\n\n---\n"))
	f.Add([]byte(from + "Subject: " + strings.Repeat("ü", 100) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := SplitPatches(data)
		if err != nil {
			return
		}
		total := 0
		for _, p := range ps {
			total += len(p.Data)
			if strings.ContainsAny(p.Name, "/\\") || strings.Contains(p.Name, "..") || len(p.Name) > 64 {
				t.Fatalf("unsafe name %q", p.Name)
			}
		}
		if total != len(data) {
			t.Fatalf("split lost bytes: %d of %d", total, len(data))
		}
	})
}

func TestCleanText(t *testing.T) {
	if got := CleanText("a\tb\n\x1b[2J\u202e\r"); got != "a\tb\n\uFFFD[2J\uFFFD\uFFFD" {
		t.Errorf("CleanText = %q", got)
	}
}
