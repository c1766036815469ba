package apply

import (
	"slices"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// buildReach are the hosts of the bottle's capability build policy, each
// once, in order; nil when it cannot be read (no start has written it).
func buildReach(paths Paths) []string {
	e, err := manifest.LoadEgressFile(paths.BuildPolicy())
	if err != nil {
		return nil
	}
	out := []string{}
	for _, r := range e.Routes {
		if !slices.Contains(out, r.Host) {
			out = append(out, r.Host)
		}
	}
	return out
}
