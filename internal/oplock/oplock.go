// Package oplock serialises the writers of one bottle's policy: the
// operator's decisions and sweeps (supervise) and a new run's rewrite of
// the live policy (lifecycle). Each reads approved.yaml and writes
// policy.yaml; interleaved, one would write back what the other removed.
package oplock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Lock takes an exclusive flock on path (hoststate's OperatorLock),
// waiting for any holder, and returns its release.
func Lock(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("locking: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking: %w", err)
	}
	return func() { f.Close() }, nil
}
