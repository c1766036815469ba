package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Patch is one patch of a series, as git format-patch wrote it.
type Patch struct {
	// Name is a file name made here (never taken from the agent as is):
	// 0001-subject-words.patch.
	Name string
	Data []byte
}

// fromLine starts each patch of `git format-patch --stdout`.
var fromLine = regexp.MustCompile(`^From [0-9a-f]{40}([0-9a-f]{24})? Mon Sep 17 00:00:00 2001$`)

// ErrNoPatches is returned for output with no patch in it.
var ErrNoPatches = errors.New("no patches")

// SplitPatches splits format-patch output (from the agent) into patches
// with safe file names.
func SplitPatches(mbox []byte) ([]Patch, error) {
	var out []Patch
	var cur []byte
	flush := func() {
		if cur != nil {
			n := len(out) + 1
			out = append(out, Patch{Name: fmt.Sprintf("%04d-%s.patch", n, subjectSlug(cur)), Data: cur})
		}
	}
	for rest := mbox; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		if fromLine.Match(bytes.TrimRight(line, "\n")) {
			flush()
			cur = []byte{}
		} else if cur == nil {
			return nil, fmt.Errorf("reading patches: text before the first patch: %q", clip(string(bytes.TrimSpace(line))))
		}
		cur = append(cur, line...)
	}
	flush()
	if len(out) == 0 {
		return nil, ErrNoPatches
	}
	return out, nil
}

// subjectSlug is the patch's Subject, without "[PATCH n/m]", as lower-case
// words of [a-z0-9] joined by dashes, at most 52 bytes (git's own limit).
func subjectSlug(p []byte) string {
	var subject string
	for _, line := range strings.Split(string(p), "\n") {
		if line == "" {
			break // end of the mail header
		}
		if s, ok := strings.CutPrefix(line, "Subject: "); ok {
			subject = s
			break
		}
	}
	if strings.HasPrefix(subject, "[") {
		if i := strings.Index(subject, "]"); i >= 0 {
			subject = subject[i+1:]
		}
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(subject) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		switch {
		case ok:
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= 52 {
			break
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 52 {
		s = strings.TrimRight(s[:52], "-")
	}
	if s == "" {
		return "patch"
	}
	return s
}
