package workspace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/atomicfile"
)

// StateDir is the folder in a bottle's state that holds base.json and what
// was saved when the agent exited.
func StateDir(bottleState string) string { return filepath.Join(bottleState, "workspace") }

// BaseFile is the record of a copy-in.
func BaseFile(bottleState string) string { return filepath.Join(StateDir(bottleState), "base.json") }

// Base is what was copied into a bottle's /workspace, kept in its state so
// diff and export know what the agent started from. Everything but Tree is
// read on the host, from the user's repository, before the agent runs.
type Base struct {
	// Source is the host directory that was copied.
	Source string `json:"source"`
	// Git is true when Source was the top of a git work tree.
	Git bool `json:"git"`
	// Head is the commit checked out at copy-in ("" when none).
	Head string `json:"head,omitempty"`
	// Refs are the branch and tag tips at copy-in, by full ref name.
	Refs map[string]string `json:"refs,omitempty"`
	// Tree is the git tree of /workspace right after the copy (every file
	// the copy put there, ignored ones excepted), written in the agent.
	Tree string `json:"tree,omitempty"`
	// GitDir is where Tree's objects live in the agent when Source was
	// not a git repository ("" means /workspace/.git).
	GitDir  string    `json:"git_dir,omitempty"`
	Files   int       `json:"files"`
	Bytes   int64     `json:"bytes"`
	Ignored bool      `json:"respect_gitignore"`
	Copied  time.Time `json:"copied"`
}

// Tips are the base's distinct ref tips, sorted: what export leaves out.
func (b Base) Tips() []string {
	var out []string
	for _, sha := range b.Refs {
		if !slices.Contains(out, sha) {
			out = append(out, sha)
		}
	}
	if b.Head != "" && !slices.Contains(out, b.Head) {
		out = append(out, b.Head)
	}
	slices.Sort(out)
	return out
}

// ReadBase reads the copy-in record of the bottle whose state is dir.
func ReadBase(dir string) (Base, error) {
	data, err := os.ReadFile(BaseFile(dir))
	if err != nil {
		return Base{}, fmt.Errorf("reading what was copied in: %w", err)
	}
	var b Base
	if err := json.Unmarshal(data, &b); err != nil {
		return Base{}, fmt.Errorf("reading %s: %w", BaseFile(dir), err)
	}
	return b, nil
}

// WriteBase records b in the bottle's state dir.
func WriteBase(dir string, b Base) error {
	if err := os.MkdirAll(StateDir(dir), 0o700); err != nil {
		return fmt.Errorf("recording the copy-in: %w", err)
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(BaseFile(dir), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("recording the copy-in: %w", err)
	}
	return nil
}

// HostRefs reads HEAD and the branch and tag tips of the user's repository
// at root.
func HostRefs(root string) (head string, refs map[string]string, err error) {
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", append([]string{"-c", "core.fsmonitor=false", "-C", root}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
		}
		return string(out), nil
	}
	out, err := git("for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/tags")
	if err != nil {
		return "", nil, fmt.Errorf("reading the refs of %s: %w", root, err)
	}
	refs = map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if sha, name, ok := strings.Cut(line, " "); ok {
			refs[name] = sha
		}
	}
	// A repository without commits has no HEAD commit: that is fine.
	if out, err := git("rev-parse", "--verify", "-q", "HEAD^{commit}"); err == nil {
		head = strings.TrimSpace(out)
	}
	return head, refs, nil
}
