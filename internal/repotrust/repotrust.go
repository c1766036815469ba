// Package repotrust decides whether an agent shipped in the working
// directory (a cloned repository's ./.bot-bottle/agents/) may run: the user
// reads its prompt and what it runs with and says yes once, and the yes is
// remembered by the file's content hash, so an edited file asks again.
package repotrust

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// Agent is a repository's agent file and what it will run with, as shown
// to the user.
type Agent struct {
	// Name is the agent's name (its file name without .md).
	Name string
	// File is the file's path as shown to the user.
	File string
	// Content is the file as read: what the hash covers.
	Content []byte
	// Prompt is the file's body: the agent's system prompt.
	Prompt string
	// AsksFor is the file's own bottle: key ("" when it names none).
	AsksFor string
	// Bottles are the bottles it will run in (--bottle may override
	// AsksFor).
	Bottles []string
	// Skills are the skills it asks for.
	Skills []string
	// GitUser is the commit identity the file sets ("" when none).
	GitUser string
	// Hosts are the egress route hosts the bottles open to it.
	Hosts []string
	// Repos are the git-gate upstreams it may push to.
	Repos []string
	// Tokens are the env var names whose values the sidecar injects for it.
	Tokens []string
}

// Hash is the SHA-256 of a file's content, hex: the key a confirmation is
// remembered by.
func Hash(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

// Options say how the start runs.
type Options struct {
	// Headless is a start without a terminal conversation: it never asks.
	Headless bool
	// DryRun launches nothing, so nothing needs confirming.
	DryRun bool
	// Override is --trust-repo-agent: run without asking, remember nothing.
	Override bool
	// Terminal is where to ask; nil when stdin is not a terminal.
	Terminal *Terminal
}

// Terminal is the user's terminal: the question goes to Out, the answer
// comes from In.
type Terminal struct {
	In  io.Reader
	Out io.Writer
}

// Decision says whether the agent may run, and why.
type Decision struct {
	// Run is true when the agent may run.
	Run bool
	// Reason is one sentence for the user.
	Reason string
	// Remembered is true when this decision stored a new confirmation.
	Remembered bool
}

// Check decides whether repository agent a may run, asking on o.Terminal
// when it must. An error is a failure to read or write the store; the
// agent does not run then either.
func Check(s *Store, a Agent, o Options) (Decision, error) {
	hash := Hash(a.Content)
	ok, err := s.Trusted(hash)
	if err != nil {
		return Decision{}, err
	}
	short := hash[:12]
	file := Escape(a.File)
	switch {
	case ok:
		return Decision{Run: true, Reason: fmt.Sprintf("agent %q from %s was confirmed before (sha256 %s)", a.Name, file, short)}, nil
	case o.DryRun:
		return Decision{Run: true, Reason: fmt.Sprintf("agent %q comes from %s in the working directory and is not confirmed (sha256 %s): a real start shows it to you and asks first", a.Name, file, short)}, nil
	case o.Override:
		return Decision{Run: true, Reason: fmt.Sprintf("agent %q from %s runs unconfirmed because of --trust-repo-agent (sha256 %s, not remembered)", a.Name, file, short)}, nil
	case o.Headless:
		return Decision{Reason: fmt.Sprintf("agent %q comes from %s in the working directory and has not been confirmed (sha256 %s); a headless start does not ask: run \"bot-bottle start %s\" once on a terminal to review it, or pass --trust-repo-agent", a.Name, file, short, a.Name)}, nil
	case o.Terminal == nil:
		return Decision{Reason: fmt.Sprintf("agent %q comes from %s in the working directory and has not been confirmed (sha256 %s); stdin is not a terminal, so bot-bottle cannot ask: run it once from a terminal to review it, or pass --trust-repo-agent", a.Name, file, short)}, nil
	}
	if err := Render(o.Terminal.Out, a); err != nil {
		return Decision{}, fmt.Errorf("showing agent %q: %w", a.Name, err)
	}
	fmt.Fprintf(o.Terminal.Out, "Run agent %q as shown? Your answer is remembered for this exact file. [y/N] ", a.Name)
	if !yes(o.Terminal.In) {
		fmt.Fprintln(o.Terminal.Out)
		return Decision{Reason: fmt.Sprintf("agent %q from %s was not confirmed; nothing was started", a.Name, file)}, nil
	}
	if err := s.Trust(hash, a); err != nil {
		return Decision{}, err
	}
	return Decision{Run: true, Remembered: true, Reason: fmt.Sprintf("agent %q from %s confirmed (sha256 %s)", a.Name, file, short)}, nil
}

// yes reads one line and reports whether it says y or yes. End of input
// is a no. It reads byte by byte so that nothing typed after the line is
// swallowed before the agent gets the terminal.
func yes(r io.Reader) bool {
	var line []byte
	b := make([]byte, 1)
	for len(line) < 1024 {
		n, err := r.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
			continue
		}
		if err != nil || n == 0 {
			break
		}
	}
	switch strings.ToLower(strings.TrimSpace(string(line))) {
	case "y", "yes":
		return true
	}
	return false
}
