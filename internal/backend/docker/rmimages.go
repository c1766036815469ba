package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

var _ backend.ImageRemover = (*Docker)(nil)

// LabelCommittedFrom on a committed image names the bottle it was
// committed from.
const LabelCommittedFrom = backend.LabelSlug + ".committed-from"

// RemoveImages removes the images made for slug alone: its capability
// builds (labelled with its slug) and, with committed, its commits. An
// image a container still uses is kept and its error returned; the others
// go on.
func (d *Docker) RemoveImages(ctx context.Context, slug string, committed bool) ([]string, error) {
	if slug == "" {
		return nil, errors.New("removing images: empty slug")
	}
	var refs []string
	for _, label := range []string{backend.LabelSlug, LabelCommittedFrom} {
		list, err := d.eng.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("label", label+"="+slug)})
		if err != nil {
			return nil, fmt.Errorf("removing images of %s: listing: %w", slug, err)
		}
		for _, im := range list.Items {
			if _, isCommit := im.Labels[LabelCommittedFrom]; isCommit && !committed {
				continue
			}
			tags := im.RepoTags
			if len(tags) == 0 {
				tags = []string{im.ID}
			}
			for _, t := range tags {
				if !slices.Contains(refs, t) {
					refs = append(refs, t)
				}
			}
		}
	}
	var removed []string
	var errs []error
	for _, ref := range refs {
		if _, err := d.eng.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("removing image %s: %w", ref, err))
			continue
		}
		removed = append(removed, ref)
	}
	return removed, errors.Join(errs...)
}
