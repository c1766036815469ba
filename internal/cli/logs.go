package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/hoststate"
	"github.com/bot-bottle/bot-bottle/internal/logview"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

type logsOptions struct {
	follow bool
	json   bool
	poll   time.Duration
}

func newLogsCmd(env Env) *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs SLUG [egress|dns|gate|supervise|attest]...",
		Short: "Show a bottle's decision logs: egress, dns, git-gate, supervise, attest",
		Long: `Show what the sidecar of bottle SLUG decided, one line per decision, merged
by time across its logs: egress (each refused request; allowed ones too at
egress log level 1 or more), dns (each refused query), gate (git-gate
requests), supervise (proposals filed and answered, and the operator's
decisions from the audit log) and attest (the bypass probes run by start
and doctor). Name one or more logs to see only those.

The logs live in ~/.bot-bottle/state/SLUG/logs/*.jsonl (the audit log in
~/.bot-bottle/audit/SLUG.jsonl) and hold no secrets; values that look like
credentials are masked here anyway. --json prints the lines as the daemons
wrote them, one JSON object a line; --follow keeps printing new lines until
interrupted.`,
		Example: `  bot-bottle logs impl-k3x9q
  bot-bottle logs impl-k3x9q egress --follow
  bot-bottle logs impl-k3x9q dns --json | jq .name`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeLogs(env),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd.Context(), env, args[0], args[1:], o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing new lines until interrupted")
	f.BoolVar(&o.json, "json", false, "print the JSON lines as written (credential-like values masked)")
	f.DurationVar(&o.poll, "poll", 500*time.Millisecond, "how often --follow looks for new lines")
	_ = f.MarkHidden("poll")
	return cmd
}

func runLogs(ctx context.Context, env Env, slug string, kinds []string, o logsOptions) error {
	if !manifest.ValidName(slug) {
		return usageError(fmt.Errorf("%q is not a bottle slug (bot-bottle list shows them)", slug))
	}
	for _, k := range kinds {
		if !slices.Contains(logview.Kinds(), k) {
			return usageError(fmt.Errorf("no log %q: use %s", k, strings.Join(logview.Kinds(), ", ")))
		}
	}
	if o.poll <= 0 {
		return usageError(errors.New("--poll must be positive"))
	}
	if env.Home == "" {
		return errors.New("reading logs: home directory unknown; set HOME")
	}
	dirs := hoststate.New(env.Home)
	b := dirs.Bottle(slug)
	if _, err := os.Stat(b.Root()); errors.Is(err, fs.ErrNotExist) {
		return found(fmt.Errorf("no bottle %s: %s does not exist (bot-bottle list shows the bottles there are)", slug, manifest.ShortPath(env.Home, b.Root())))
	}
	srcs, err := logview.Sources(b.Logs(), dirs.Audit(slug), kinds)
	if err != nil {
		return usageError(err)
	}
	out := bufio.NewWriter(env.Stdout)
	show := func(lines []logview.Line) error {
		for _, l := range lines {
			if o.json {
				out.Write(l.Raw)
				out.WriteByte('\n')
			} else {
				out.WriteString(logview.Format(l, time.Local) + "\n")
			}
		}
		return out.Flush()
	}
	tail := logview.NewTail(srcs)
	lines, err := tail.Poll()
	if perr := show(lines); perr != nil {
		return fmt.Errorf("writing logs: %w", perr)
	}
	if err != nil {
		return err
	}
	if !o.follow {
		if len(lines) == 0 {
			fmt.Fprintf(env.Stderr, "bot-bottle: no log lines yet in %s\n", manifest.ShortPath(env.Home, b.Logs()))
		}
		return nil
	}
	tick := time.NewTicker(o.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		lines, err := tail.Poll()
		if perr := show(lines); perr != nil {
			return fmt.Errorf("writing logs: %w", perr)
		}
		if err != nil {
			return err
		}
	}
}

// completeLogs completes the slug from the state directories, then the
// log names.
func completeLogs(env Env) completeFunc {
	return func(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return withPrefix(logview.Kinds(), prefix), cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(slugs(env), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}
