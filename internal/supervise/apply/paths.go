package apply

import "github.com/bot-bottle/bot-bottle/internal/hoststate"

// Paths names the host-side files of one bottle; hoststate is the one
// place their names are spelled.
type Paths struct {
	Home string
	Slug string
}

func (p Paths) bottle() hoststate.Bottle { return hoststate.New(p.Home).Bottle(p.Slug) }

// State is ~/.bot-bottle/state/<slug>.
func (p Paths) State() string { return p.bottle().Root() }

// Queue is the bottle's proposal queue directory.
func (p Paths) Queue() string { return p.bottle().Queue() }

// Policy is the live egress policy the egress daemon watches.
func (p Paths) Policy() string { return p.bottle().Policy() }

// Approved holds the routes the operator approved, kept for resume.
func (p Paths) Approved() string { return p.bottle().Approved() }

// CurrentConfig is mounted read-only in the agent at
// /etc/bot-bottle/current-config.
func (p Paths) CurrentConfig() string { return p.bottle().CurrentConfig() }

// Capabilities holds the approved capability-block lines, appended to the
// bottle's image at its next start.
func (p Paths) Capabilities() string { return p.bottle().Capabilities() }

// BuildPolicy is the capability build's egress policy, written at each
// start.
func (p Paths) BuildPolicy() string {
	return hoststate.Bottle(p.bottle().CapabilityBuild()).Policy()
}

// Metadata is the bottle's metadata.json.
func (p Paths) Metadata() string { return p.bottle().Metadata() }

// lock serialises operator decisions on one bottle.
func (p Paths) lock() string { return p.bottle().OperatorLock() }

// StateRoot is ~/.bot-bottle/state.
func StateRoot(home string) string { return hoststate.New(home).StateRoot() }
