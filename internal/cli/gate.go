package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/internal/gitgate"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

func newGateCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gate",
		Short: "Run the git-gate: the agent's scanned, fail-closed git remote",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newGateServeCmd(env), newGateHookCmd(env))
	return cmd
}

func newGateServeCmd(env Env) *cobra.Command {
	var config, listen, stateDir string
	cmd := &cobra.Command{
		Use:   "serve --config FILE --listen ADDR --state-dir DIR",
		Short: "Serve the git-gate for the repos in a bottle manifest or git-gate YAML",
		Long: `Serve one bare mirror per repo declared under git-gate.repos, over smart
HTTP at http://ADDR/NAME.git. Fetches refresh the mirror from the upstream
first; pushes are scanned with gitleaks and clean refs are forwarded upstream
over SSH with the repo's key and pinned host key.

The supervise queue for # gitleaks:allow approvals comes from
SUPERVISE_QUEUE_DIR and SUPERVISE_BOTTLE_SLUG; the wait is bounded by
SUPERVISE_GITLEAKS_ALLOW_TIMEOUT_SECONDS (default 300).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config == "" || stateDir == "" {
				return usageError(errors.New("gate serve needs --config and --state-dir"))
			}
			gg, err := loadGitGateFile(config)
			if err != nil {
				return usageError(err)
			}
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the bot-bottle binary: %w", err)
			}
			srv, err := gitgate.New(gitgate.Config{
				Listen:       listen,
				StateDir:     stateDir,
				Repos:        resolveKeyPaths(gg.Repos, filepath.Dir(config)),
				User:         gg.User,
				QueueDir:     env.Getenv(gitgate.EnvQueueDir),
				Slug:         env.Getenv(gitgate.EnvSlug),
				AllowTimeout: env.Getenv(gitgate.EnvAllowTimeout),
				Logger:       env.logger(),
				BinaryPath:   bin,
				Environ:      env.Environ(),
			})
			if err != nil {
				return err
			}
			return srv.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "bottle manifest (.md) or YAML file with a git-gate: block")
	cmd.Flags().StringVar(&listen, "listen", ":9420", "address to listen on")
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "directory for the mirrors and known_hosts files")
	return cmd
}

// newGateHookCmd is the mirrors' pre-receive hook; git runs it, not people.
func newGateHookCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:    "hook pre-receive",
		Short:  "The git-gate mirrors' pre-receive hook",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "pre-receive" {
				return usageError(fmt.Errorf("unknown hook %q", args[0]))
			}
			h := gitgate.HookFromEnv(env.Getenv, env.Environ())
			if err := h.PreReceive(cmd.Context(), env.Stdin, env.Stderr); err != nil {
				if errors.Is(err, gitgate.ErrRefused) {
					return found(nil)
				}
				return found(err)
			}
			return nil
		},
	}
}

// resolveKeyPaths makes relative key paths relative to the config file.
func resolveKeyPaths(repos map[string]manifest.Repo, dir string) map[string]manifest.Repo {
	out := make(map[string]manifest.Repo, len(repos))
	for name, r := range repos {
		if r.Key.Path != "" && !filepath.IsAbs(r.Key.Path) {
			r.Key.Path = filepath.Join(dir, r.Key.Path)
		}
		out[name] = r
	}
	return out
}

// loadGitGateFile reads the git-gate block of a bottle manifest (YAML
// frontmatter between --- lines) or of a YAML file whose only top-level key
// is git-gate. Unknown keys fail.
// TODO: replace with manifest.LoadGitGateFile once the foundation lands.
func loadGitGateFile(path string) (*manifest.GitGate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading git-gate config: %w", err)
	}
	var gg *manifest.GitGate
	if front, ok := frontmatter(b); ok {
		var bf manifest.BottleFile
		if err := decodeStrict(front, &bf); err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		gg = bf.GitGate
	} else {
		var f struct {
			GitGate *manifest.GitGate `yaml:"git-gate"`
		}
		if err := decodeStrict(b, &f); err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		gg = f.GitGate
	}
	if gg == nil || len(gg.Repos) == 0 {
		return nil, fmt.Errorf("reading %s: no git-gate.repos declared", path)
	}
	return gg, nil
}

func frontmatter(b []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(b, []byte("---\n"))
	if !ok {
		return nil, false
	}
	front, _, ok := bytes.Cut(rest, []byte("\n---"))
	return front, ok
}

func decodeStrict(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}
