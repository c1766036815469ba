// Package atomicfile writes files so that a reader sees the old content or
// the new, never half of either: a temp file beside the target, synced, then
// renamed into place.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Write writes b to path atomically with the given mode, creating the
// parent directory (0700) when missing.
func Write(path string, b []byte, mode fs.FileMode) error {
	return write(path, b, mode, os.Rename)
}

// WriteNew is Write that refuses to replace an existing file: it fails with
// an error matching fs.ErrExist, so two writers racing for one name cannot
// both win.
func WriteNew(path string, b []byte, mode fs.FileMode) error {
	return write(path, b, mode, os.Link)
}

func write(path string, b []byte, mode fs.FileMode, place func(tmp, path string) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := keepOwner(f, path); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return place(tmp, path)
}

// keepOwner gives the new file the owner of the one it replaces, when
// running as root: a file handed to another uid (the state a Kubernetes
// sidecar reads as its own user) stays readable by it after a rewrite.
func keepOwner(f *os.File, path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	old, err := os.Stat(path)
	if err != nil {
		return nil // nothing replaced
	}
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 && st.Gid == 0 {
		return nil
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}
