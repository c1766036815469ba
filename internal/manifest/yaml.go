package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
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

// MarshalJSON writes false or the list, as in the manifest.
func (d Detectors) MarshalJSON() ([]byte, error) {
	if d.Off {
		return []byte("false"), nil
	}
	if d.Names == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(d.Names)
}

// UnmarshalJSON accepts false or a list of detector names.
func (d *Detectors) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "false" {
		*d = Detectors{Off: true}
		return nil
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return errors.New("expected false or a list of detector names")
	}
	*d = Detectors{Names: names}
	return nil
}
