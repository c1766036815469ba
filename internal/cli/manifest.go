package cli

import (
	"encoding/json"
	"fmt"

	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/spf13/cobra"
)

func newManifestCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "manifest",
		Short: "Work with bottle and agent manifests",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newManifestCheckCmd(env))
	return cmd
}

// checkReport is the --json output of manifest check.
type checkReport struct {
	OK       bool               `json:"ok"`
	Builtin  bool               `json:"builtin"`
	Agents   []string           `json:"agents"`
	Bottles  []string           `json:"bottles"`
	Warnings []string           `json:"warnings"`
	Problems []manifest.Problem `json:"problems"`
}

func newManifestCheckCmd(env Env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Load every manifest and report every problem",
		Long: `Load every bottle in ~/.bot-bottle/bottles/ and every agent in
~/.bot-bottle/agents/ and ./.bot-bottle/agents/, follow every extends chain,
and print one line per problem: FILE:LINE: what is wrong; what to do.

Exit status: 0 when there are no problems, 1 when there are.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set := manifest.Load(env.Home, env.Cwd)
			ps := set.Check()
			if asJSON {
				rep := checkReport{
					OK:       len(ps) == 0,
					Builtin:  set.Builtin,
					Agents:   set.AgentNames(),
					Bottles:  set.BottleNames(),
					Warnings: append([]string{}, set.Warnings...),
					Problems: append([]manifest.Problem{}, ps...),
				}
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return fmt.Errorf("writing report: %w", err)
				}
				if len(ps) > 0 {
					return found(nil)
				}
				return nil
			}
			printWarnings(env, set)
			for _, p := range ps {
				fmt.Fprintln(env.Stdout, p.String())
			}
			if len(ps) > 0 {
				return found(fmt.Errorf("%d %s", len(ps), plural(len(ps), "problem", "problems")))
			}
			fmt.Fprintln(env.Stdout, checkSummary(set))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func checkSummary(set *manifest.Set) string {
	if set.Builtin {
		return "ok: no ~/.bot-bottle, so the built-in shell agent and default bottle are used (bot-bottle init writes a starter)"
	}
	// Count the user's files; the built-ins are always there.
	na, nb := 0, 0
	for _, a := range set.Agents {
		if !a.Builtin {
			na++
		}
	}
	for _, b := range set.Bottles {
		if !b.Builtin {
			nb++
		}
	}
	return fmt.Sprintf("ok: %d %s, %d %s, no problems", na, plural(na, "agent", "agents"), nb, plural(nb, "bottle", "bottles"))
}

func printWarnings(env Env, set *manifest.Set) {
	for _, w := range set.Warnings {
		fmt.Fprintf(env.Stderr, "bot-bottle: warning: %s\n", w)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
