package policy

import (
	"fmt"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// LoadFile reads a policy file: a bottle manifest (Markdown with YAML
// frontmatter) or a YAML file with a top-level egress: key, strictly, and
// compiles its egress block.
func LoadFile(path string) (*Policy, error) {
	e, err := manifest.LoadEgressFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading policy: %w", err)
	}
	p, err := Compile(e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
