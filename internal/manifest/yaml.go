package manifest

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML accepts false or a list of detector names.
func (d *Detectors) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var b bool
		if n.Tag != "!!bool" || n.Decode(&b) != nil || b {
			return fmt.Errorf("line %d: expected false or a list of detector names", n.Line)
		}
		*d = Detectors{Off: true}
		return nil
	case yaml.SequenceNode:
		var names []string
		if err := n.Decode(&names); err != nil {
			return fmt.Errorf("line %d: expected false or a list of detector names", n.Line)
		}
		*d = Detectors{Names: names}
		return nil
	}
	return fmt.Errorf("line %d: expected false or a list of detector names", n.Line)
}

// MarshalYAML writes false or the list.
func (d Detectors) MarshalYAML() (any, error) {
	if d.Off {
		return false, nil
	}
	return d.Names, nil
}

// UnmarshalYAML accepts one name or a list of names.
func (s *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var v string
		if err := n.Decode(&v); err != nil {
			return err
		}
		*s = StringList{v}
		return nil
	case yaml.SequenceNode:
		var v []string
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: expected a name or a list of names", n.Line)
		}
		*s = v
		return nil
	}
	return fmt.Errorf("line %d: expected a name or a list of names", n.Line)
}
