package docker

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

var _ backend.BaseImages = (*Docker)(nil)

// MissingBases names the agents' and the sidecar's base images that the
// engine does not have (backend.BaseImages).
func (d *Docker) MissingBases(ctx context.Context) ([]string, error) {
	var missing []string
	for _, ref := range []string{d.opts.Base, d.opts.SidecarBase} {
		_, err := d.eng.ImageInspect(ctx, ref)
		switch {
		case err == nil:
		case cerrdefs.IsNotFound(err):
			missing = append(missing, ref)
		default:
			return nil, fmt.Errorf("inspecting base image %s: %w", ref, err)
		}
	}
	return missing, nil
}
