package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/egress"
	"github.com/bot-bottle/bot-bottle/internal/sidecar"
)

// DefaultEgressListen is the sidecar's egress port (DESIGN.md).
const DefaultEgressListen = ":9099"

func newEgressServeCmd(env Env) *cobra.Command {
	cfg := egress.Config{}
	var cpuProfile, memProfile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the egress proxy",
		Long: `serve runs the egress proxy on --listen with the routes in --policy (a bottle
manifest, or YAML with a top-level egress: key). The policy file is watched:
a valid change applies to the next request, an invalid one is logged and the
last good policy stays.

The bottle CA is created in --state-dir (ca.pem, ca-key.pem) or reused from
there; clients must trust DIR/ca.pem. Tokens come from the environment
variables the routes' token_ref name. --upstream-ca adds trusted roots for
upstreams. Decisions are logged to stderr as JSON lines.

A request held by outbound_on_match: supervise waits for an answer in
--queue-dir (env SUPERVISE_QUEUE_DIR) for EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS
(default 300); without a queue it is refused.

--idle-timeout closes a connection or tunnel that carries no request for
that long, --header-timeout bounds a request header (and a CONNECT's TLS
handshake), and --body-timeout cuts off a request body when no byte of it
arrives for that long (see docs/egress.md, Timeouts).

--unsafe-allow-private-ranges lets every route reach loopback, private and
link-local addresses, and --allow-port lets every route use another port
besides 443 and 80: for local testing only.`,
		Example: `  bot-bottle egress serve --policy policy.yaml --listen 127.0.0.1:9099 --state-dir ./ca
  curl --proxy http://127.0.0.1:9099 --cacert ./ca/ca.pem https://api.github.com/zen`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.PolicyPath == "" || cfg.StateDir == "" {
				return usageError(errors.New("egress serve: --policy and --state-dir are required"))
			}
			if err := positiveTimeouts(cfg); err != nil {
				return usageError(err)
			}
			var err error
			if cfg.TokenAllowTimeout, err = egress.ParseTokenAllowTimeout(env.Getenv(egress.TokenAllowTimeoutEnv)); err != nil {
				return usageError(err)
			}
			if cfg.QueueDir == "" {
				cfg.QueueDir = env.Getenv("SUPERVISE_QUEUE_DIR")
			}
			if cfg.BottleSlug == "" {
				cfg.BottleSlug = env.Getenv("SUPERVISE_BOTTLE_SLUG")
			}
			cfg.Getenv = env.Getenv
			defer sidecar.SetSoftMemoryLimit(env.Getenv)() // as in the sidecar, which runs the same proxy
			cfg.Logger = env.logger()
			s, err := egress.New(cfg)
			if err != nil {
				return usageError(err)
			}
			stop, err := startProfiles(cpuProfile, memProfile)
			if err != nil {
				return err
			}
			defer stop()
			return s.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.PolicyPath, "policy", "", "policy file: a bottle manifest or YAML with egress:")
	f.StringVar(&cfg.Listen, "listen", DefaultEgressListen, "address to listen on")
	f.StringVar(&cfg.StateDir, "state-dir", "", "directory holding the bottle CA (created when missing)")
	f.StringVar(&cfg.UpstreamCAFile, "upstream-ca", "", "PEM bundle of extra roots trusted for upstreams")
	f.BoolVar(&cfg.UnsafeAllowPrivateRanges, "unsafe-allow-private-ranges", false, "let every route reach private, loopback and link-local addresses (testing only)")
	f.IntSliceVar(&cfg.ExtraPorts, "allow-port", nil, "another port every route may use besides 443 and 80 (repeatable; testing only)")
	f.StringVar(&cfg.QueueDir, "queue-dir", "", "supervise queue for egress-token-allow holds (env SUPERVISE_QUEUE_DIR)")
	f.StringVar(&cfg.BottleSlug, "slug", "", "the bottle's slug, for proposals (env SUPERVISE_BOTTLE_SLUG)")
	f.DurationVar(&cfg.IdleTimeout, "idle-timeout", egress.DefaultIdleTimeout, "close a connection or tunnel that carries no request for this long")
	f.DurationVar(&cfg.HeaderTimeout, "header-timeout", egress.DefaultHeaderTimeout, "longest a request header (or a CONNECT's TLS handshake) may take")
	f.DurationVar(&cfg.BodyTimeout, "body-timeout", egress.DefaultBodyTimeout, "cut off a request body when no byte of it arrives for this long")
	f.IntVar(&cfg.MaxConns, "max-connections", egress.DefaultMaxConns, "most connections from agents open at once; one more is refused (503 too-many-connections)")
	// Profiles for bench/egress (PROFILE_DIR): written when serve stops.
	f.StringVar(&cpuProfile, "cpu-profile", "", "write a pprof CPU profile here when serve stops")
	f.StringVar(&memProfile, "mem-profile", "", "write a pprof allocation profile here when serve stops")
	f.MarkHidden("cpu-profile")
	f.MarkHidden("mem-profile")
	return cmd
}

// startProfiles starts the CPU profile and returns what writes both.
func startProfiles(cpu, mem string) (func(), error) {
	var cf *os.File
	if cpu != "" {
		var err error
		if cf, err = os.Create(cpu); err != nil {
			return nil, fmt.Errorf("egress serve: cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(cf); err != nil {
			cf.Close()
			return nil, fmt.Errorf("egress serve: cpu profile: %w", err)
		}
	}
	return func() {
		if cf != nil {
			pprof.StopCPUProfile()
			cf.Close()
		}
		if mem != "" {
			if mf, err := os.Create(mem); err == nil {
				pprof.Lookup("allocs").WriteTo(mf, 0)
				mf.Close()
			}
		}
	}, nil
}

// positiveTimeouts refuses a zero or negative timeout: there is no switch
// to turn one off.
func positiveTimeouts(cfg egress.Config) error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"--idle-timeout", cfg.IdleTimeout}, {"--header-timeout", cfg.HeaderTimeout}, {"--body-timeout", cfg.BodyTimeout}} {
		if f.d <= 0 {
			return fmt.Errorf("egress serve: %s %s: want a positive duration such as 30s", f.name, f.d)
		}
	}
	if cfg.MaxConns <= 0 {
		return fmt.Errorf("egress serve: --max-connections %d: want a positive number", cfg.MaxConns)
	}
	return nil
}
