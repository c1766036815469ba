package provider

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// skillNameRE is a skill's folder name: what Claude Code accepts, and safe
// as a path element everywhere.
var skillNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Skill is one skill folder copied from the host into the agent.
type Skill struct {
	// Name is the folder name.
	Name string `json:"name"`
	// Source is the folder on the host.
	Source string `json:"source"`
	// Target is the folder in the agent (set by Provision).
	Target string `json:"target,omitempty"`
}

// ResolveSkills finds each named skill under the user's home in the
// template's host skill folders, first match wins. A name that is not a
// valid skill name, a skill that is not found, and a skill holding a
// symbolic link or anything but plain files and folders are errors: a link
// could copy a file from outside the skill (~/.ssh) into the bottle.
func ResolveSkills(s Spec, home string, names []string) ([]Skill, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if s.SkillsDir == "" {
		return nil, fmt.Errorf("resolving skills: template %s takes no skills", s.Name)
	}
	seen := map[string]bool{}
	var out []Skill
	for _, n := range names {
		if !skillNameRE.MatchString(n) {
			return nil, fmt.Errorf("resolving skill %q: not a skill name (lower-case letters, digits and dashes)", n)
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		src, err := findSkill(home, s.HostSkillsDirs, n)
		if err != nil {
			return nil, err
		}
		if err := checkSkillTree(src); err != nil {
			return nil, fmt.Errorf("resolving skill %q: %w", n, err)
		}
		out = append(out, Skill{Name: n, Source: src})
	}
	return out, nil
}

func findSkill(home string, dirs []string, name string) (string, error) {
	var looked []string
	for _, d := range dirs {
		p := filepath.Join(home, d, name)
		looked = append(looked, p)
		// The skill folder itself may be a link (skills are often kept in
		// a checkout); what is inside it may not.
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("resolving skill %q: %w", name, err)
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("resolving skill %q: %s is not a folder", name, p)
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", fmt.Errorf("resolving skill %q: %w", name, err)
		}
		return real, nil
	}
	return "", fmt.Errorf("resolving skill %q: not found (looked in %v)", name, looked)
}

func checkSkillTree(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() && !d.IsDir() {
			return fmt.Errorf("%s is not a plain file or folder", p)
		}
		return nil
	})
}
