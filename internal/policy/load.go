package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// LoadFile reads a policy file: a bottle manifest (Markdown with YAML
// frontmatter) or a YAML file with a top-level egress: key, strictly, and
// compiles its egress block.
func LoadFile(path string) (*Policy, error) {
	e, err := loadEgress(path)
	if err != nil {
		return nil, err
	}
	p, err := Compile(e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// loadEgress stands in for manifest.LoadEgressFile until the manifest
// package has it.
func loadEgress(path string) (*manifest.Egress, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err)
	}
	if rest, ok := bytes.CutPrefix(b, []byte("---\n")); ok {
		end := bytes.Index(rest, []byte("\n---"))
		if end < 0 {
			return nil, fmt.Errorf("%s: frontmatter is not closed by ---", path)
		}
		b = rest[:end+1]
	}
	var f manifest.BottleFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f.Egress, nil
}
