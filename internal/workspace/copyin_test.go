package workspace

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func gitT(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// repo makes a git repository with one commit, an ignored file, an
// untracked file and an ignored directory.
func repo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gitT(t, dir, "init", "-q", "-b", "main")
	writeFiles(t, dir, map[string]string{
		".gitignore":        "*.log\nbuild/\n",
		"main.go":           "package main\n",
		"pkg/a.go":          "package pkg\n",
		"debug.log":         "noise\n",
		"build/out.bin":     "binary\n",
		"notes/untracked":   "keep me\n",
		"pkg/sub/trace.log": "noise\n",
	})
	gitT(t, dir, "add", ".gitignore", "main.go", "pkg/a.go")
	gitT(t, dir, "commit", "-q", "-m", "first")
	if err := os.Symlink("main.go", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// untar lists a tar stream's entries as "type name uid:gid" plus file data.
func untar(t *testing.T, data []byte) (map[string]*tar.Header, map[string]string) {
	t.Helper()
	hdrs, files := map[string]*tar.Header{}, map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs, files
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs[h.Name] = h
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[h.Name] = string(b)
		}
	}
}

func names(m map[string]*tar.Header, prefix string) []string {
	var out []string
	for n := range m {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func TestPackWholeTreeOwnedByAgent(t *testing.T) {
	dir := repo(t)
	tree, err := List(dir, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !tree.Git || tree.Ignored {
		t.Errorf("Git=%v Ignored=%v, want a git tree copied whole", tree.Git, tree.Ignored)
	}
	var buf bytes.Buffer
	if err := Pack(&buf, tree, PackOptions{Prefix: "workspace", UID: 4242, GID: 4343}); err != nil {
		t.Fatal(err)
	}
	hdrs, files := untar(t, buf.Bytes())
	for _, want := range []string{"workspace/", "workspace/debug.log", "workspace/build/out.bin", "workspace/.git/HEAD", "workspace/notes/untracked", "workspace/pkg/sub/trace.log"} {
		if hdrs[want] == nil {
			t.Errorf("missing %s; have %v", want, names(hdrs, "workspace/"))
		}
	}
	for name, h := range hdrs {
		if h.Uid != 4242 || h.Gid != 4343 {
			t.Errorf("%s owned by %d:%d, want 4242:4343", name, h.Uid, h.Gid)
		}
	}
	if h := hdrs["workspace/link"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "main.go" {
		t.Errorf("symlink not kept as a link: %+v", h)
	}
	if files["workspace/main.go"] != "package main\n" {
		t.Errorf("main.go = %q", files["workspace/main.go"])
	}
}

func TestPackRespectsGitignore(t *testing.T) {
	dir := repo(t)
	tree, err := List(dir, ListOptions{RespectGitignore: true})
	if err != nil {
		t.Fatal(err)
	}
	if !tree.Ignored {
		t.Error("Ignored = false")
	}
	var buf bytes.Buffer
	if err := Pack(&buf, tree, PackOptions{Prefix: "workspace"}); err != nil {
		t.Fatal(err)
	}
	hdrs, _ := untar(t, buf.Bytes())
	got := slices.DeleteFunc(names(hdrs, "workspace/"), func(n string) bool { return strings.HasPrefix(n, "workspace/.git/") })
	want := []string{"workspace/", "workspace/.gitignore", "workspace/link", "workspace/main.go", "workspace/notes/", "workspace/notes/untracked", "workspace/pkg/", "workspace/pkg/a.go"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if hdrs["workspace/.git/HEAD"] == nil || hdrs["workspace/.git/objects/"] == nil {
		t.Error(".git was not copied whole")
	}
	// Parents come before children so the engine can unpack in order.
	seen := map[string]bool{}
	for _, e := range tree.Entries {
		if p := parent(e.Rel); e.Rel != "" && !seen[p] {
			t.Errorf("%s listed before its parent %q", e.Rel, p)
		}
		seen[e.Rel] = true
	}
}

func TestGitignoreOutsideARepoCopiesAll(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{".gitignore": "*.log\n", "a.log": "x"})
	tree, err := List(dir, ListOptions{RespectGitignore: true})
	if err != nil {
		t.Fatal(err)
	}
	if tree.Git || tree.Ignored || tree.Files() != 2 {
		t.Errorf("Git=%v Ignored=%v Files=%d, want the whole non-git tree", tree.Git, tree.Ignored, tree.Files())
	}
}

func TestPackDropsSpecialBits(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"run.sh": "#!/bin/sh\n"})
	os.Chmod(filepath.Join(dir, "run.sh"), 0o4755)
	tree, err := List(dir, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Pack(&buf, tree, PackOptions{Prefix: "w"}); err != nil {
		t.Fatal(err)
	}
	hdrs, _ := untar(t, buf.Bytes())
	if m := hdrs["w/run.sh"].Mode; m != 0o755 {
		t.Errorf("mode %o, want 755 (no setuid)", m)
	}
}

func TestPackProgress(t *testing.T) {
	dir := t.TempDir()
	for i := range 20 {
		writeFiles(t, dir, map[string]string{filepath.Join("d", string(rune('a'+i))): strings.Repeat("x", 1000)})
	}
	tree, err := List(dir, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	if err := Pack(io.Discard, tree, PackOptions{Progress: &progress, ProgressMin: 1}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) != 10 || !strings.Contains(lines[9], "100%") || !strings.HasPrefix(lines[0], "10%") {
		t.Errorf("want ten lines from 10%% to 100%%, got:\n%s", progress.String())
	}
	progress.Reset()
	if err := Pack(io.Discard, tree, PackOptions{Progress: &progress, ProgressMin: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if progress.Len() != 0 {
		t.Errorf("a small tree printed progress: %s", progress.String())
	}
}

func TestPackFailsWhenAFileShrinks(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": "0123456789"})
	tree, err := List(dir, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"f": "01"})
	if err := Pack(io.Discard, tree, PackOptions{}); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Errorf("err = %v, want a shrunk-file error", err)
	}
}

func TestHostRefs(t *testing.T) {
	dir := repo(t)
	gitT(t, dir, "tag", "v1")
	head, refs, err := HostRefs(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := gitT(t, dir, "rev-parse", "HEAD")
	if head != want || refs["refs/heads/main"] != want || refs["refs/tags/v1"] != want {
		t.Errorf("head %s refs %v, want %s everywhere", head, refs, want)
	}
	if tips := (Base{Head: head, Refs: refs}).Tips(); len(tips) != 1 {
		t.Errorf("Tips = %v, want one", tips)
	}
}

func TestListThroughASymlinkedRoot(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"real/a.txt": "a"})
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(filepath.Join(dir, "real", "a.txt"), old, old)
	link := filepath.Join(dir, "link")
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	tree, err := List(link, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Pack(&buf, tree, PackOptions{Prefix: "workspace"}); err != nil {
		t.Fatal(err)
	}
	hdrs, files := untar(t, buf.Bytes())
	if h := hdrs["workspace/"]; h == nil || h.Typeflag != tar.TypeDir {
		t.Fatalf("the root is not a directory entry: %v", names(hdrs, ""))
	}
	if files["workspace/a.txt"] != "a" || !hdrs["workspace/a.txt"].ModTime.Equal(old) {
		t.Errorf("a.txt: %q, mtime %v (want %v)", files["workspace/a.txt"], hdrs["workspace/a.txt"].ModTime, old)
	}
}

func TestLinkedWorktreeIsNoRepository(t *testing.T) {
	src := repo(t)
	wt := filepath.Join(t.TempDir(), "wt")
	gitT(t, src, "worktree", "add", "-q", wt)
	tree, err := List(wt, ListOptions{RespectGitignore: true})
	if err != nil {
		t.Fatal(err)
	}
	if tree.Git || !tree.Worktree {
		t.Errorf("Git=%v Worktree=%v", tree.Git, tree.Worktree)
	}
}
