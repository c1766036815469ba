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
	"github.com/bot-bottle/bot-bottle/internal/supervise/inspect"
	"github.com/bot-bottle/bot-bottle/internal/tui"
)

func newSuperviseUICmd(env Env) *cobra.Command {
	var once bool
	var poll time.Duration
	var notify string
	cmd := &cobra.Command{
		Use:   "supervise",
		Short: "Approve, modify or reject what bottled agents ask for",
		Long: `supervise opens a terminal UI over the proposal queue of every bottle on this
machine: routes an agent asks to reach, image changes, pushes and requests the
sidecar holds. Approve, modify (in $EDITOR, validated before it is accepted)
or reject each one; approved routes apply to the running bottle at once and
every decision is written to the bottle's audit log.

Press i for the inspector: every bottle's egress decisions as they happen
(time, method, host, path, status, decision, reason), refusals in red; f shows
refusals only, b steps through the bottles. On a refusal, n opens the
narrowest route that would allow it in $EDITOR; saving files it as your
proposal (validated; emptying the file abandons it), and approving it from
the list applies it live and writes it to the audit log.

--notify CMD runs CMD (with /bin/sh -c) once for each proposal the UI has not
seen before, the proposal's summary as one JSON document on stdin: a desktop
notifier or a chat webhook script. --once prints the pending proposals and
exits; the list, approve and reject
subcommands do the same work without a terminal. "supervise serve" is the
other side: the MCP server the agent calls, which files the proposals.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			op := &apply.Operator{Home: env.Home}
			if env.Home == "" {
				return errors.New("supervise: no home directory")
			}
			if once {
				items, errs := sweeping{op, newNotifier(notify)}.Pending()
				printPending(env.Stdout, items, time.Now())
				return pendingErrors(errs)
			}
			return runSuperviseUI(cmd, env, sweeping{op, newNotifier(notify)}, poll)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "print the pending proposals and exit")
	cmd.Flags().DurationVar(&poll, "poll", time.Second, "how often to read the queues")
	cmd.Flags().StringVar(&notify, "notify", "", "run this shell command once per new proposal, its summary as JSON on stdin")
	return cmd
}

func runSuperviseUI(cmd *cobra.Command, env Env, op sweeping, poll time.Duration) error {
	if poll <= 0 {
		return usageError(errors.New("--poll must be positive"))
	}
	if !onTerminal(env) {
		return errors.New("supervise: the UI needs a terminal on stdin and stdout; without one, " +
			"`bot-bottle supervise list` shows the pending proposals and `supervise approve ID` / `supervise reject ID` answer them")
	}
	m := tui.New(tui.Options{
		Service:  op,
		Poll:     poll,
		Editor:   editorCommand(env),
		Bell:     func() { io.WriteString(env.Stdout, "\a") },
		Renderer: lipgloss.NewRenderer(env.Stdout),
		Events:   inspect.NewWatcher(env.Home),
		File: func(slug, text, refusalID string) (string, error) {
			p, err := inspect.File(env.Home, slug, text, refusalID)
			return p.ID, err
		},
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
// the UI reads the queues, so an expired grant leaves the files at once,
// and runs the --notify command for each new proposal.
type sweeping struct {
	*apply.Operator
	notify *notifier
}

func (s sweeping) Pending() ([]apply.Item, []error) {
	errs := s.ExpireAll()
	items, perrs := s.Operator.Pending()
	errs = append(errs, perrs...)
	return items, append(errs, s.notify.notify(items)...)
}
