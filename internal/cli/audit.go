package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/supervise/audit"
)

var auditSlugRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

func newAuditCmd(env Env) *cobra.Command {
	var verify, asJSON bool
	cmd := &cobra.Command{
		Use:   "audit [SLUG]",
		Short: "Print a bottle's supervise decisions, or prove the log was not edited",
		Long: `audit prints the audit log of one bottle (SLUG), or of every bottle with a log
under ~/.bot-bottle/audit: one line per supervise decision, each carrying the
hash of the line before it.

--verify checks the hash chain instead and exits 1 if any log was edited, cut
short, or holds a half-written line (a crash mid-write), naming the line.
The chain cannot detect a complete rewrite of a log by someone who can write
to it.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env.Home == "" {
				return errors.New("audit: no home directory")
			}
			slugs, err := auditSlugs(env.Home, args)
			if err != nil {
				return err
			}
			if verify {
				return auditVerify(env.Stdout, env.Home, slugs, asJSON)
			}
			return auditPrint(env, slugs, asJSON)
		},
	}
	cmd.Flags().BoolVar(&verify, "verify", false, "check the hash chain; exit 1 on a problem")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: entries as JSON Lines, or one report per bottle with --verify")
	cmd.AddCommand(newAuditShowCmd(env))
	return cmd
}

// newAuditShowCmd is `audit show [--json] [SLUG]`: every entry in full.
func newAuditShowCmd(env Env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show [SLUG]",
		Short: "Print each audit entry in full: who decided what, with which limits",
		Long: `show prints every entry of a bottle's audit log (or of every bottle's) in
full: the time, the operator (host user), the tool, the decision, the
proposal, the refusal it proved, the limits of a scoped grant, the notes and
the decided content (route YAML, capability lines, the findings a hold
showed; never a secret value). --json prints the entries as JSON Lines.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env.Home == "" {
				return errors.New("audit: no home directory")
			}
			slugs, err := auditSlugs(env.Home, args)
			if err != nil {
				return err
			}
			if asJSON {
				return auditPrint(env, slugs, true)
			}
			return auditShow(env, slugs)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the entries as JSON Lines")
	return cmd
}

func auditShow(env Env, slugs []string) error {
	w := env.Stdout
	for _, s := range slugs {
		entries, err := audit.Read(audit.Path(env.Home, s))
		if err != nil && entries == nil {
			return err
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "bot-bottle: %v (run audit --verify)\n", err)
		}
		for _, e := range entries {
			fmt.Fprintf(w, "%s  %s  %s %s\n", e.Time.Format("2006-01-02 15:04:05Z"), e.Bottle, e.Action, e.Tool)
			for _, f := range [][2]string{
				{"operator", e.Operator}, {"proposal", e.ProposalID}, {"refusal", e.RefusalID},
				{"limits", e.Limits}, {"notes", oneLine(e.Notes)},
			} {
				if f[1] != "" {
					fmt.Fprintf(w, "  %-9s %s\n", f[0]+":", printable(f[1]))
				}
			}
			if c := strings.TrimRight(e.Content, "\n"); c != "" {
				fmt.Fprintln(w, "  content:")
				for _, l := range strings.Split(c, "\n") {
					fmt.Fprintf(w, "    %s\n", printable(l))
				}
			}
			fmt.Fprintln(w)
		}
	}
	if len(slugs) == 0 {
		fmt.Fprintln(w, "no audit logs")
	}
	return nil
}

func auditSlugs(home string, args []string) ([]string, error) {
	if len(args) == 1 {
		if !auditSlugRE.MatchString(args[0]) {
			return nil, usageError(fmt.Errorf("audit: %q is not a bottle slug", args[0]))
		}
		return args, nil
	}
	slugs, err := audit.Slugs(home)
	if err != nil {
		return nil, err
	}
	return slugs, nil
}

// verifyReport is one bottle's line of `audit --verify --json`.
type verifyReport struct {
	Bottle string `json:"bottle"`
	audit.Report
}

func auditVerify(w io.Writer, home string, slugs []string, asJSON bool) error {
	bad := 0
	enc := json.NewEncoder(w)
	for _, s := range slugs {
		rep, err := audit.Verify(audit.Path(home, s))
		if err != nil {
			return err
		}
		if !rep.OK {
			bad++
		}
		if asJSON {
			if err := enc.Encode(verifyReport{Bottle: s, Report: rep}); err != nil {
				return err
			}
			continue
		}
		if rep.OK {
			fmt.Fprintf(w, "%s: ok, %d lines\n", s, rep.Lines)
		} else {
			fmt.Fprintf(w, "%s: FAILED: %s\n", s, rep.Problem)
		}
	}
	if !asJSON {
		if len(slugs) == 0 {
			fmt.Fprintln(w, "no audit logs")
		}
		fmt.Fprintf(w, "note: %s\n", audit.Caveat)
	}
	if bad > 0 {
		return found(nil)
	}
	return nil
}

func auditPrint(env Env, slugs []string, asJSON bool) error {
	var tw *tabwriter.Writer
	if !asJSON {
		tw = tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tBOTTLE\tTOOL\tACTION\tPROPOSAL\tNOTES")
	}
	enc := json.NewEncoder(env.Stdout)
	for _, s := range slugs {
		entries, err := audit.Read(audit.Path(env.Home, s))
		if err != nil && entries == nil {
			return err
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "bot-bottle: %v (run audit --verify)\n", err)
		}
		for _, e := range entries {
			if asJSON {
				if err := enc.Encode(e); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format("2006-01-02 15:04:05Z"),
				e.Bottle, e.Tool, e.Action, e.ProposalID, oneLine(e.Notes))
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// oneLine folds whitespace so a note cannot break the table.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
