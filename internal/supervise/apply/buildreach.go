package apply

import (
	"slices"
	"strings"

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

// DescribeBuildReach is what a build may reach, for a person: the hosts,
// "nothing more than ..." when there are none, or not known yet.
func DescribeBuildReach(hosts []string) string {
	switch {
	case hosts == nil:
		return "not known yet (no start has written the build policy): the bottle's egress routes and capabilities.routes (Debian's mirrors by default)"
	case len(hosts) == 0:
		return "nothing: the bottle has no egress routes and its capabilities.routes is empty"
	}
	return strings.Join(hosts, ", ")
}
