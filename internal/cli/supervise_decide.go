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
	var lim apply.Limits
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a pending proposal (found in whichever bottle holds it)",
		Long: verb + ` answers a pending proposal without the terminal UI. Approving
applies the change at once (routes go live, image changes are kept for the next
start) and every answer is written to the bottle's audit log. gitleaks-allow
and egress-token-allow need --reason to be approved.

An approved route can be scoped: --ttl 1h (then it expires), --uses 10 (then
it is spent), --session (this run only; resume drops it), --method GET and
--path-prefix /v1/ (narrowed; never widened). A spent grant is refused at once
with a reason naming it, and dropped from the policy by the next supervise.

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
			d := apply.Decision{Status: status, Notes: reason, Limits: lim}
			if err := apply.Check(it.Proposal.Tool, d); err != nil {
				if apply.NeedsReason(it.Proposal.Tool) && strings.TrimSpace(reason) == "" {
					err = fmt.Errorf("%w (use --reason)", err)
				}
				return usageError(err)
			}
			if err := op.Decide(it, d); err != nil {
				if errors.Is(err, apply.ErrRefused) {
					return found(err)
				}
				return err
			}
			if asJSON {
				out := map[string]string{
					"id": id, "bottle": it.Slug, "tool": it.Proposal.Tool, "status": status, "notes": reason,
				}
				if !lim.Empty() {
					out["limits"], out["grant"] = lim.String(), apply.GrantID(id)
				}
				return json.NewEncoder(env.Stdout).Encode(out)
			}
			fmt.Fprintf(env.Stdout, "%s %s (%s from %s)\n", status, id, it.Proposal.Tool, it.Slug)
			if !lim.Empty() {
				fmt.Fprintf(env.Stdout, "scoped: %s (grant %s)\n", lim.String(), apply.GrantID(id))
			}
			if it.Proposal.Tool == queue.ToolCapabilityBlock && status != queue.StatusRejected {
				fmt.Fprintf(env.Stdout, "built at the next start, as root; its build may reach: %s\n", apply.DescribeBuildReach(it.BuildReach))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why: sent to the agent and written to the audit log")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	if status == queue.StatusApproved {
		limitFlags(cmd, &lim)
	}
	return cmd
}

// limitFlags adds the grant limits of `supervise approve`.
func limitFlags(cmd *cobra.Command, l *apply.Limits) {
	f := cmd.Flags()
	f.DurationVar(&l.TTL, "ttl", 0, "the approved route expires after this long (e.g. 1h)")
	f.IntVar(&l.Uses, "uses", 0, "the approved route allows this many requests, then is spent")
	f.BoolVar(&l.Session, "session", false, "the approved route lasts for this run only")
	f.StringSliceVar(&l.Methods, "method", nil, "narrow the route to these methods")
	f.StringSliceVar(&l.PathPrefixes, "path-prefix", nil, "narrow the route to these path prefixes")
}
