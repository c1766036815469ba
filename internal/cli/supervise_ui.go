package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/tui"
)

func newSuperviseUICmd(env Env) *cobra.Command {
	var once bool
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "supervise",
		Short: "Approve, modify or reject what bottled agents ask for",
		Long: `supervise opens a terminal UI over the proposal queue of every bottle on this
machine: routes an agent asks to reach, image changes, pushes and requests the
sidecar holds. Approve, modify (in $EDITOR, validated before it is accepted)
or reject each one; approved routes apply to the running bottle at once and
every decision is written to the bottle's audit log.

--once prints the pending proposals and exits; the list, approve and reject
subcommands do the same work without a terminal. "supervise serve" is the
other side: the MCP server the agent calls, which files the proposals.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			op := &apply.Operator{Home: env.Home}
			if env.Home == "" {
				return errors.New("supervise: no home directory")
			}
			if once {
				items, errs := sweeping{op}.Pending()
				printPending(env.Stdout, items, time.Now())
				return pendingErrors(errs)
			}
			return runSuperviseUI(cmd, env, op, poll)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "print the pending proposals and exit")
	cmd.Flags().DurationVar(&poll, "poll", time.Second, "how often to read the queues")
	return cmd
}

func runSuperviseUI(cmd *cobra.Command, env Env, op *apply.Operator, poll time.Duration) error {
	if poll <= 0 {
		return usageError(errors.New("--poll must be positive"))
	}
	m := tui.New(tui.Options{
		Service:  sweeping{op},
		Poll:     poll,
		Editor:   editorCommand(env),
		Bell:     func() { io.WriteString(env.Stdout, "\a") },
		Renderer: lipgloss.NewRenderer(env.Stdout),
	})
	p := tea.NewProgram(m,
		tea.WithAltScreen(),
		tea.WithContext(cmd.Context()),
		tea.WithInput(env.Stdin),
		tea.WithOutput(env.Stdout),
	)
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("running the supervise UI: %w", err)
	}
	return nil
}

// editorCommand is $VISUAL, else $EDITOR, else vi, split into words.
func editorCommand(env Env) []string {
	for _, k := range []string{"VISUAL", "EDITOR"} {
		if f := strings.Fields(env.Getenv(k)); len(f) > 0 {
			return f
		}
	}
	return []string{"vi"}
}

// sweeping drops spent grants from the policy files (audited) each time
// the UI reads the queues, so an expired grant leaves the files at once.
type sweeping struct{ *apply.Operator }

func (s sweeping) Pending() ([]apply.Item, []error) {
	errs := s.ExpireAll()
	items, perrs := s.Operator.Pending()
	return items, append(errs, perrs...)
}
