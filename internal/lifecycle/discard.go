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
	if err := be.Remove(ctx, slug); err != nil {
		errs = append(errs, err)
	}
	if ir, ok := be.(backend.ImageRemover); ok {
		refs, err := ir.RemoveImages(ctx, slug, committed)
		r.Images = refs
		if err != nil {
			errs = append(errs, err)
		}
	}
	if stateDir != "" && len(errs) == 0 {
		// The state goes last: while anything of the bottle is left, its
		// state is what lets a second rm or cleanup find it.
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
