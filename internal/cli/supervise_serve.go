package cli

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/supervise"
)

func newSuperviseServeCmd(env Env) *cobra.Command {
	var cfg supervise.Config
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the supervise MCP server for one bottle",
		Long: `serve runs the MCP server (streamable HTTP, answering at / on its port) that
an agent calls to ask for egress routes or image changes. Each call becomes a
proposal in --queue-dir; the call waits up to --wait for the answer, then
returns the proposal ID for the agent to check with proposal-status.

Flags default to the environment the sidecar sets: SUPERVISE_BOTTLE_SLUG,
SUPERVISE_QUEUE_DIR, SUPERVISE_PORT (listen on :PORT) and
SUPERVISE_WAIT_SECONDS. An invalid value is an error, never a default.`,
		Example: `  bot-bottle supervise serve --slug impl-k3x9q \
    --queue-dir ~/.bot-bottle/state/impl-k3x9q/supervise/queue \
    --listen 127.0.0.1:9100 \
    --policy ~/.bot-bottle/state/impl-k3x9q/egress/policy.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := serveDefaults(env, cmd, &cfg, &wait); err != nil {
				return usageError(err)
			}
			cfg.Wait = wait
			cfg.Logger = env.logger()
			s, err := supervise.NewServer(cfg)
			if err != nil {
				return usageError(err)
			}
			return s.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Slug, "slug", "", "the bottle's slug (env SUPERVISE_BOTTLE_SLUG)")
	f.StringVar(&cfg.QueueDir, "queue-dir", "", "the bottle's queue directory (env SUPERVISE_QUEUE_DIR)")
	f.StringVar(&cfg.Listen, "listen", "", fmt.Sprintf("address to listen on (default :%d, or :$SUPERVISE_PORT)", supervise.DefaultPort))
	f.StringVar(&cfg.PolicyPath, "policy", "", "the live egress policy.yaml: hashed into proposals, listed when --proxy is not given")
	f.StringVar(&cfg.CapabilityPath, "capability", "", "the bottle's approved image additions: hashed into capability proposals")
	f.StringVar(&cfg.ProxyURL, "proxy", "", "the egress proxy URL, asked for the live route table (http://_egress.local/allowlist)")
	f.StringVar(&cfg.EgressLog, "egress-log", "", "the proxy's log (logs/egress.jsonl): egress-block proves a refusal ID against it")
	f.DurationVar(&wait, "wait", supervise.DefaultWait, "how long a call waits for the operator before answering pending (env SUPERVISE_WAIT_SECONDS)")
	return cmd
}

// serveDefaults fills what the flags left empty from the sidecar's
// environment.
func serveDefaults(env Env, cmd *cobra.Command, cfg *supervise.Config, wait *time.Duration) error {
	if cfg.Slug == "" {
		cfg.Slug = env.Getenv("SUPERVISE_BOTTLE_SLUG")
	}
	if cfg.QueueDir == "" {
		cfg.QueueDir = env.Getenv("SUPERVISE_QUEUE_DIR")
	}
	if cfg.Slug == "" {
		return errors.New("supervise serve: no bottle slug: give --slug or set SUPERVISE_BOTTLE_SLUG")
	}
	if cfg.QueueDir == "" {
		return errors.New("supervise serve: no queue directory: give --queue-dir or set SUPERVISE_QUEUE_DIR")
	}
	if cfg.Listen == "" {
		if p := env.Getenv("SUPERVISE_PORT"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("supervise serve: SUPERVISE_PORT %q is not a port", p)
			}
			cfg.Listen = fmt.Sprintf(":%d", n)
		}
	}
	if !cmd.Flags().Changed("wait") {
		if s := env.Getenv("SUPERVISE_WAIT_SECONDS"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || time.Duration(n)*time.Second > supervise.MaxWait {
				return fmt.Errorf("supervise serve: SUPERVISE_WAIT_SECONDS %q is not a number of seconds from 1 to %d", s, int(supervise.MaxWait.Seconds()))
			}
			*wait = time.Duration(n) * time.Second
		}
	}
	return nil
}
