package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// newSuperviseDecideCmd is `supervise approve ID` or `supervise reject ID`.
func newSuperviseDecideCmd(env Env, verb string) *cobra.Command {
	status := queue.StatusApproved
	if verb == "reject" {
		status = queue.StatusRejected
	}
	var reason string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a pending proposal (found in whichever bottle holds it)",
		Long: verb + ` answers a pending proposal without the terminal UI. Approving
applies the change at once (routes go live, image changes are kept for the next
start) and every answer is written to the bottle's audit log. gitleaks-allow
and egress-token-allow need --reason to be approved.

Exit status: 0 answered; 1 no pending proposal has that id, or the answer was
refused (a route only the operator may add: use the UI to modify it);
2 bad usage or an error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			op := &apply.Operator{Home: env.Home}
			id := args[0]
			if !queue.ValidID(id) {
				return usageError(fmt.Errorf("invalid proposal id %q: ids are lower-case UUIDs", id))
			}
			it, err := op.Find(id)
			if err != nil {
				if errors.Is(err, apply.ErrNotFound) {
					return found(err)
				}
				return err
			}
			d := apply.Decision{Status: status, Notes: reason}
			if err := apply.Check(it.Proposal.Tool, d); err != nil {
				return usageError(fmt.Errorf("%w (use --reason)", err))
			}
			if err := op.Decide(it, d); err != nil {
				if errors.Is(err, apply.ErrRefused) {
					return found(err)
				}
				return err
			}
			if asJSON {
				return json.NewEncoder(env.Stdout).Encode(map[string]string{
					"id": id, "bottle": it.Slug, "tool": it.Proposal.Tool, "status": status, "notes": reason,
				})
			}
			fmt.Fprintf(env.Stdout, "%s %s (%s from %s)\n", status, id, it.Proposal.Tool, it.Slug)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why: sent to the agent and written to the audit log")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
