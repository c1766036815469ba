package e2e

import (
	"io/fs"
	"syscall"
)

// statUID is the owner of a file.
func statUID(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return ^uint32(0)
}
