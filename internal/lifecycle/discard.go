package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// Removed is what Remove took away.
type Removed struct {
	// Containers is true when the containers and networks went.
	Containers bool
	// Images are the image references removed.
	Images []string
	// State is true when the state directory was removed.
	State bool
}

// Remove removes one bottle entirely: its containers and networks, the
// images made for it alone (its capability builds and, with committed,
// its commits) and its state directory stateDir ("" keeps none). The
// audit log, outside the state, stays. It goes on past a failure and
// returns every error.
func Remove(ctx context.Context, be backend.Backend, slug, stateDir string, committed bool) (Removed, error) {
	var r Removed
	var errs []error
	containersErr := be.Remove(ctx, slug)
	if containersErr != nil {
		errs = append(errs, containersErr)
	}
	r.Containers = containersErr == nil
	if ir, ok := be.(backend.ImageRemover); ok {
		// Images are found by their label, not the state: one that cannot
		// go (a container of someone else's uses it) is said, and the state
		// still goes.
		refs, err := ir.RemoveImages(ctx, slug, committed)
		r.Images = refs
		if err != nil {
			errs = append(errs, err)
		}
	}
	if stateDir != "" && containersErr == nil {
		// While containers are left, the state is what lets a second rm or
		// cleanup find them as the user's.
		if err := os.RemoveAll(stateDir); err != nil {
			errs = append(errs, fmt.Errorf("removing state of %s: %w", slug, err))
		} else {
			r.State = true
		}
	}
	return r, errors.Join(errs...)
}

// Discard is Remove for start --rm: everything goes, commits included,
// and what could not be removed is said on progress.
func Discard(ctx context.Context, be backend.Backend, slug, stateDir string, progress io.Writer) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	fmt.Fprintf(progress, "• removing bottle %s and its state (--rm)\n", slug)
	if _, err := Remove(ctx, be, slug, stateDir, true); err != nil {
		fmt.Fprintf(progress, "bot-bottle: --rm left parts of %s: %v\n", slug, err)
	}
}
