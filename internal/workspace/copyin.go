// Package workspace moves work into and out of a bottle: it packs the
// user's working directory (its .git included) as a tar stream owned by the
// agent's user, records what was copied in, and checks what comes back out
// (git bundles and patch series produced inside the agent) before any of it
// is written on the host. Nothing here unpacks files from a bottle onto the
// host.
package workspace

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Dir is where the working directory lands in the agent.
const Dir = "/workspace"

// Entry is one file, directory or symlink to copy, by slash-separated path
// relative to the copied directory ("" is the directory itself).
type Entry struct {
	Rel  string
	Mode fs.FileMode
	Size int64
	// ModTime is kept, so build tools that compare times behave.
	ModTime time.Time
	// Link is a symlink's target, copied as it is.
	Link string
}

// Tree is what a copy-in takes from the host.
type Tree struct {
	// Root is the host directory.
	Root    string
	Entries []Entry
	// Bytes is the total size of the regular files.
	Bytes int64
	// Skipped names special files (sockets, devices, fifos) left out.
	Skipped []string
	// Git is true when Root is the top of a git work tree with a .git
	// directory (its history goes in with it).
	Git bool
	// Worktree is true when .git is a file (a linked worktree): its
	// history lives elsewhere and is not copied.
	Worktree bool
	// Ignored is true when the user's ignore rules left files out.
	Ignored bool
}

// Files counts the regular files and symlinks.
func (t Tree) Files() int {
	n := 0
	for _, e := range t.Entries {
		if !e.Mode.IsDir() {
			n++
		}
	}
	return n
}

// ListOptions choose what a copy-in takes.
type ListOptions struct {
	// RespectGitignore leaves out what the repository's ignore rules
	// exclude (git ls-files -co --exclude-standard); .git itself is always
	// copied. Outside a git repository it has no effect.
	RespectGitignore bool
}

// List walks root and returns what a copy-in of it takes, parents before
// children. Symlinks are kept as links (never followed).
func List(root string, o ListOptions) (Tree, error) {
	root, err := filepath.Abs(root)
	if err == nil {
		// A root that is a symlink would be copied as the link itself.
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return Tree{}, fmt.Errorf("listing %s: %w", root, err)
	}
	info, err := os.Stat(root)
	if err != nil {
		return Tree{}, fmt.Errorf("listing %s: %w", root, err)
	}
	if !info.IsDir() {
		return Tree{}, fmt.Errorf("listing %s: not a directory", root)
	}
	t := Tree{Root: root}
	gi, err := os.Lstat(filepath.Join(root, ".git"))
	t.Git = err == nil && gi.IsDir()
	t.Worktree = err == nil && gi.Mode().IsRegular()
	if o.RespectGitignore && t.Git {
		names, err := gitListed(root)
		if err != nil {
			return Tree{}, err
		}
		t.Ignored = true
		return t, t.addListed(names)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			rel = ""
		}
		return t.add(filepath.ToSlash(rel))
	})
	if err != nil {
		return Tree{}, fmt.Errorf("listing %s: %w", root, err)
	}
	return t, nil
}

// add records one path (Lstat'ed: links are not followed).
func (t *Tree) add(rel string) error {
	p := filepath.Join(t.Root, filepath.FromSlash(rel))
	info, err := os.Lstat(p)
	if err != nil {
		return err
	}
	e := Entry{Rel: rel, Mode: info.Mode(), ModTime: info.ModTime()}
	switch {
	case info.Mode().IsRegular():
		e.Size = info.Size()
		t.Bytes += e.Size
	case info.IsDir():
	case info.Mode()&fs.ModeSymlink != 0:
		if e.Link, err = os.Readlink(p); err != nil {
			return err
		}
	default:
		t.Skipped = append(t.Skipped, rel)
		return nil
	}
	t.Entries = append(t.Entries, e)
	return nil
}

// addListed adds the files git listed, their parent directories, and all
// of .git.
func (t *Tree) addListed(names []string) error {
	dirs := map[string]bool{}
	var addDirs func(string) error
	addDirs = func(rel string) error {
		if dirs[rel] {
			return nil
		}
		if rel != "" {
			if err := addDirs(parent(rel)); err != nil {
				return err
			}
		}
		dirs[rel] = true
		return t.add(rel)
	}
	if err := addDirs(""); err != nil {
		return err
	}
	walk := func(rel string) error {
		return filepath.WalkDir(filepath.Join(t.Root, filepath.FromSlash(rel)), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			r, err := filepath.Rel(t.Root, p)
			if err != nil {
				return err
			}
			r = filepath.ToSlash(r)
			if d.IsDir() {
				return addDirs(r)
			}
			if err := addDirs(parent(r)); err != nil {
				return err
			}
			return t.add(r)
		})
	}
	if err := walk(".git"); err != nil {
		return fmt.Errorf("listing .git: %w", err)
	}
	for _, n := range names {
		if n == ".git" || strings.HasPrefix(n, ".git/") {
			continue
		}
		info, err := os.Lstat(filepath.Join(t.Root, filepath.FromSlash(n)))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree but still in the index
		}
		if err != nil {
			return err
		}
		if info.IsDir() {
			// A submodule or nested repository: git lists it as one path.
			if err := walk(n); err != nil {
				return err
			}
			continue
		}
		if err := addDirs(parent(n)); err != nil {
			return err
		}
		if err := t.add(n); err != nil {
			return err
		}
	}
	return nil
}

func parent(rel string) string {
	d := path.Dir(rel)
	if d == "." {
		return ""
	}
	return d
}

// gitListed runs git ls-files in the user's own repository: tracked files
// and untracked ones its ignore rules keep.
func gitListed(root string) ([]string, error) {
	cmd := exec.Command("git", "-c", "core.fsmonitor=false", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing files git keeps in %s: %w: %s", root, err, strings.TrimSpace(stderr.String()))
	}
	var names []string
	seen := map[string]bool{}
	for _, n := range strings.Split(string(out), "\x00") {
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// PackOptions say how the tar stream is written.
type PackOptions struct {
	// Prefix is the directory the tree lands in, relative to where the
	// stream is unpacked ("workspace" for Dir unpacked at /).
	Prefix string
	// UID and GID own every entry: the agent's user.
	UID, GID int
	// Progress gets a line per tenth of the bytes copied when the tree
	// is at least ProgressMin bytes (nil: no progress).
	Progress    io.Writer
	ProgressMin int64
}

// Pack writes t as a tar stream into w. A file that changed size since
// List is an error: the copy would not be what was listed.
func Pack(w io.Writer, t Tree, o PackOptions) error {
	tw := tar.NewWriter(w)
	pr := progress{w: o.Progress, total: t.Bytes}
	if o.Progress == nil || t.Bytes < o.ProgressMin {
		pr.w = nil
	}
	for _, e := range t.Entries {
		name := path.Join(o.Prefix, e.Rel)
		hdr := &tar.Header{
			Name: name, Uid: o.UID, Gid: o.GID, ModTime: e.ModTime,
			// No setuid, setgid or sticky bits from the host.
			Mode: int64(e.Mode.Perm()),
		}
		switch {
		case e.Mode.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		case e.Mode&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.Link
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, e.Size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("packing %s: %w", e.Rel, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := copyFile(tw, filepath.Join(t.Root, filepath.FromSlash(e.Rel)), e.Size); err != nil {
			return fmt.Errorf("packing %s: %w", e.Rel, err)
		}
		pr.add(e.Size)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("packing: %w", err)
	}
	return nil
}

func copyFile(w io.Writer, p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("file shrank while copying (%d of %d bytes)", n, size)
	}
	return nil
}

// progress prints a line each time another tenth of the bytes is done.
type progress struct {
	w           io.Writer
	total, done int64
	shown       int64
}

func (p *progress) add(n int64) {
	if p.w == nil || p.total == 0 {
		return
	}
	p.done += n
	tenth := p.done * 10 / p.total
	if tenth > p.shown {
		p.shown = tenth
		fmt.Fprintf(p.w, "  %3d%%  %s of %s\n", tenth*10, HumanBytes(p.done), HumanBytes(p.total))
	}
}

// HumanBytes formats n as B, KiB, MiB or GiB.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
