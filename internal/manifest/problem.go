package manifest

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a manifest, as the user reads it:
// "FILE:LINE: what is wrong; what to do".
type Problem struct {
	// File is the manifest's path.
	File string `json:"file"`
	// Line is the 1-based line in File; 0 when the problem is the whole file.
	Line int `json:"line,omitempty"`
	// Message says what is wrong and, where it can, what to do.
	Message string `json:"message"`
}

func (p Problem) String() string {
	switch {
	case p.File == "":
		return p.Message
	case p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Message)
}

// Problems is every problem found in one or more files. It is an error
// that prints one line per problem.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// err returns ps as an error, or nil when there are none.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// FieldError is one problem in a value, located by its path in the manifest
// ("auth.token_ref", "matches[0].paths[1].value").
type FieldError struct {
	// Path is the field's path in YAML key names.
	Path string `json:"path"`
	// Message says what is wrong and what to do.
	Message string `json:"message"`
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// FieldErrors is every problem found in one value, one line each.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es FieldErrors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// joinPath appends a key or index to a field path.
func joinPath(base, key string) string {
	switch {
	case base == "":
		return key
	case strings.HasPrefix(key, "["):
		return base + key
	}
	return base + "." + key
}

// sortProblems orders problems by file, then line, keeping the order of
// problems on the same line.
func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
}
