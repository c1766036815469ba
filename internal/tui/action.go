package tui

// Kind is what a component asks the root model to do.
type Kind int

// The actions components emit. Components only turn keys into these; the
// root model carries them out.
const (
	None    Kind = iota
	Open         // open the selected proposal
	Back         // leave the detail view
	Approve      // approve the selected proposal
	Modify       // edit the proposal in $EDITOR
	Reject       // reject the selected proposal
	Quit         // leave the program
	Submit       // the prompt's text is entered (Text)
	Cancel       // the prompt is dismissed
)

// Action is a component's answer to a message.
type Action struct {
	Kind Kind
	// Text is the prompt's value for Submit.
	Text string
}

// decisionKey maps the keys shared by the list and the detail view.
func decisionKey(k string) Action {
	switch k {
	case "q", "ctrl+c":
		return Action{Kind: Quit}
	case "a":
		return Action{Kind: Approve}
	case "m":
		return Action{Kind: Modify}
	case "r":
		return Action{Kind: Reject}
	}
	return Action{}
}
