package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadEgressFile reads the egress block of a file: a bottle manifest (.md
// with YAML frontmatter) or a plain YAML file with a top-level "egress:" key
// (the live policy.yaml the host writes has that shape). Decoding is strict:
// unknown keys fail with file:line. A bottle's extends are followed among
// the .md files beside it. A file without egress gives an empty Egress.
func LoadEgressFile(path string) (*Egress, error) {
	b, err := loadBottleFile(path)
	if err != nil {
		return nil, err
	}
	if b.Egress == nil {
		return &Egress{}, nil
	}
	return b.Egress, nil
}

// LoadGitGateFile reads the git-gate block of a file: a bottle manifest or a
// plain YAML file with a top-level "git-gate:" key. Relative key paths are
// made absolute against the file's directory. A file without git-gate gives
// an empty GitGate.
func LoadGitGateFile(path string) (*GitGate, error) {
	b, err := loadBottleFile(path)
	if err != nil {
		return nil, err
	}
	if b.GitGate == nil {
		return &GitGate{}, nil
	}
	return b.GitGate, nil
}

// loadBottleFile reads one bottle-shaped file, .md or plain YAML, and folds
// its extends from the .md files in the same folder.
func loadBottleFile(path string) (*BottleFile, error) {
	home, _ := os.UserHomeDir()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	b := readBottle(name, path, path, home)
	if len(b.Problems) > 0 {
		return nil, b.Problems
	}
	if len(b.Spec.Extends) == 0 {
		return b.Spec, nil
	}
	c, ps := resolveBottle(dirBottleSource{dir: filepath.Dir(path), home: home}, b)
	if len(ps) > 0 {
		return nil, ps
	}
	return c.spec, nil
}

// ParseBottleYAML parses plain YAML with the bottle's keys (no Markdown).
func ParseBottleYAML(file string, data []byte) (*BottleFile, error) {
	b, d := parseBottleYAML(file, data, 0)
	if err := d.problems.err(); err != nil {
		return nil, err
	}
	return b, nil
}

// policyFile is the shape of the live policy.yaml.
type policyFile struct {
	Egress *Egress `yaml:"egress"`
}

// MarshalPolicy writes e as the live policy file (YAML with a top-level
// "egress:" key) that LoadEgressFile reads back.
func MarshalPolicy(e *Egress) ([]byte, error) {
	out, err := yaml.Marshal(policyFile{Egress: e})
	if err != nil {
		return nil, fmt.Errorf("writing egress policy: %w", err)
	}
	return out, nil
}
