package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

func newSuperviseListCmd(env Env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the pending proposals of every bottle",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			op := &apply.Operator{Home: env.Home}
			items, errs := sweeping{Operator: op}.Pending()
			if asJSON {
				if err := writePendingJSON(env.Stdout, items); err != nil {
					return err
				}
			} else {
				printPending(env.Stdout, items, time.Now())
			}
			return pendingErrors(errs)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// pendingJSON is one line of `supervise list --json`.
type pendingJSON struct {
	ID               string    `json:"id"`
	Bottle           string    `json:"bottle"`
	Label            string    `json:"label,omitempty"`
	Tool             string    `json:"tool"`
	ArrivalTimestamp time.Time `json:"arrival_timestamp"`
	Summary          string    `json:"summary"`
	// Provenance, for egress-block: "proxy" when the proxy's log holds the
	// refusal, else "agent's claim".
	Provenance    string `json:"provenance,omitempty"`
	Justification string `json:"justification"`
	ProposedFile  string `json:"proposed_file"`
}

func writePendingJSON(w io.Writer, items []apply.Item) error {
	out := make([]pendingJSON, 0, len(items))
	for _, it := range items {
		p := it.Proposal
		out = append(out, pendingJSON{
			ID: p.ID, Bottle: it.Slug, Label: it.Label, Tool: p.Tool,
			ArrivalTimestamp: p.ArrivalTimestamp, Summary: it.Summary,
			Justification: p.Justification, ProposedFile: p.ProposedFile,
			Provenance: provenance(p),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func provenance(p queue.Proposal) string {
	switch {
	case p.Tool != queue.ToolEgressBlock:
		return ""
	case queue.Unproven(p):
		return "agent's claim"
	}
	return "proxy"
}

// printPending writes a table of the pending proposals, with each one's
// justification and file below it, so a script or a log has the whole
// request. Agent-controlled text is quoted where it could hold control
// characters.
func printPending(w io.Writer, items []apply.Item, now time.Time) {
	if len(items) == 0 {
		fmt.Fprintln(w, "no pending proposals")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tBOTTLE\tTOOL\tAGE\tSUMMARY")
	for _, it := range items {
		bottle := it.Slug
		if it.Label != "" {
			bottle += " (" + printable(it.Label) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Proposal.ID, bottle, printable(it.Proposal.Tool),
			now.Sub(it.Proposal.ArrivalTimestamp).Truncate(time.Second), printable(it.Summary))
	}
	tw.Flush()
}

// printable quotes s when it holds anything but printable text.
func printable(s string) string {
	for _, r := range s {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return fmt.Sprintf("%+q", s)
		}
	}
	return s
}

// pendingErrors reports queue files that could not be read: the listing is
// incomplete, so the command fails (exit 2) after printing what it could.
func pendingErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	return fmt.Errorf("some proposals could not be read: %w", errors.New(strings.Join(msgs, "; ")))
}

// countPending fills each row's count of proposals waiting for the
// operator; a queue that cannot be read is warned about, never hidden.
func countPending(env Env, rows []bottleRow) {
	if env.Home == "" {
		return
	}
	items, errs := (&apply.Operator{Home: env.Home}).Pending()
	n := map[string]int{}
	for _, it := range items {
		n[it.Slug]++
	}
	for i := range rows {
		rows[i].Pending = n[rows[i].Slug]
	}
	for _, err := range errs {
		fmt.Fprintf(env.Stderr, "bot-bottle: warning: %v\n", err)
	}
}
