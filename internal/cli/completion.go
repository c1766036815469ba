package cli

import (
	"maps"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/spf13/cobra"
)

// Shell completion is cobra's own "completion" command; these complete
// agent and bottle names from the user's manifests.

type completeFunc = func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective)

func completeAgents(env Env) completeFunc {
	return func(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(manifest.Load(env.Home, env.Cwd).AgentNames(), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

func completeBottles(env Env) completeFunc {
	return func(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return withPrefix(manifest.Load(env.Home, env.Cwd).BottleNames(), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeSlugs completes a command's first argument with the slugs of the
// user's bottles (their state directories: no engine is asked, so it stays
// fast and works offline); later arguments get no completion.
func completeSlugs(env Env) completeFunc {
	return func(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(slugs(env), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// slugs are the user's bottles by state directory, sorted.
func slugs(env Env) []string {
	if env.Home == "" {
		return nil
	}
	dirs, err := lifecycle.StateDirs(hoststate.New(env.Home).StateRoot())
	if err != nil {
		return nil
	}
	return slices.Sorted(maps.Keys(dirs))
}

func withPrefix(names []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}
