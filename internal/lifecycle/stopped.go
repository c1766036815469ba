package lifecycle

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// StoppedFile in a state directory says "bot-bottle stop" ended the
// bottle: the start still attached to it leaves the containers for commit
// and does not save the workspace again (stop saved it).
const StoppedFile = ".stopped"

// MarkStopped records that the bottle whose state is dir is being stopped.
// A bottle with no state directory (started elsewhere) has nothing to mark.
func MarkStopped(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, StoppedFile), nil, 0o600)
}

// wasStopped reports whether stop marked the bottle whose state is dir.
func wasStopped(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, StoppedFile))
	return err == nil
}

// clearStopped forgets an earlier stop when the bottle starts again.
func clearStopped(dir string) error {
	if err := os.Remove(filepath.Join(dir, StoppedFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
