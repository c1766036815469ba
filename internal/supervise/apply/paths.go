package apply

import "path/filepath"

// Paths names the host-side files of one bottle (DESIGN.md, Host state).
type Paths struct {
	Home string
	Slug string
}

// State is ~/.bot-bottle/state/<slug>.
func (p Paths) State() string { return filepath.Join(StateRoot(p.Home), p.Slug) }

// Queue is the bottle's proposal queue directory.
func (p Paths) Queue() string { return filepath.Join(p.State(), "supervise", "queue") }

// Policy is the live egress policy the egress daemon watches.
func (p Paths) Policy() string { return filepath.Join(p.State(), "egress", "policy.yaml") }

// Approved holds the routes the operator approved, kept for resume.
func (p Paths) Approved() string { return filepath.Join(p.State(), "egress", "approved.yaml") }

// CurrentConfig is mounted read-only in the agent at
// /etc/bot-bottle/current-config.
func (p Paths) CurrentConfig() string { return filepath.Join(p.State(), "supervise", "current-config") }

// Capabilities holds the approved capability-block lines, appended to the
// bottle's image at its next start.
func (p Paths) Capabilities() string {
	return filepath.Join(p.State(), "capabilities", "approved.Dockerfile")
}

// Metadata is the bottle's metadata.json.
func (p Paths) Metadata() string { return filepath.Join(p.State(), "metadata.json") }

// lock serialises operator decisions on one bottle.
func (p Paths) lock() string { return filepath.Join(p.State(), "supervise", ".operator.lock") }

// StateRoot is ~/.bot-bottle/state.
func StateRoot(home string) string { return filepath.Join(home, ".bot-bottle", "state") }
