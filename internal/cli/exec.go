package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
	"github.com/bot-bottle/bot-bottle/internal/provider"
)

// defaultExecCmd is exec's command when none is given: the image's bash,
// else sh (a plugin image may have no bash).
var defaultExecCmd = []string{"sh", "-c", "command -v bash >/dev/null 2>&1 && exec bash || exec sh"}

func newExecCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exec SLUG [--] [CMD [ARG]...]",
		Short: "Run a command (default: a shell) in a running bottle's agent",
		Long: `Run CMD in the agent container of the running bottle SLUG, as the agent's
user, in its working directory, with the agent's environment (its proxy, its
CA, never a secret value): what you run there is as walled in as the agent.
Without CMD you get a shell. On a terminal the command gets one; else stdin,
stdout and stderr are pipes.

Exits with 1 when CMD fails (its status is printed), 1 when there is no such
running bottle, 2 on bad usage.`,
		Example: `  bot-bottle exec impl-k3x9q
  bot-bottle exec impl-k3x9q git -C /workspace log --oneline
  bot-bottle exec impl-k3x9q -- ls -la`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			argv := args[1:]
			if len(argv) > 0 && argv[0] == "--" {
				argv = argv[1:]
			}
			return runExec(cmd.Context(), env, args[0], argv)
		},
	}
	// Everything after SLUG is the command's, its flags included.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func runExec(ctx context.Context, env Env, slug string, argv []string) error {
	if !manifest.ValidName(slug) {
		return usageError(fmt.Errorf("%q is not a bottle slug (bot-bottle list shows them)", slug))
	}
	if len(argv) == 0 {
		argv = defaultExecCmd
	}
	be, closeEngine, err := openEngineSet(ctx, env)
	if err != nil {
		return err
	}
	defer closeEngine()
	root, err := stateRootDir(env)
	if err != nil {
		return err
	}
	if err := needRunning(ctx, be, slug, root); err != nil {
		return err
	}
	s := session(env, true)
	if s.Enter != nil {
		defer s.Enter()()
	}
	code, err := be.Exec(ctx, slug, backend.ExecSpec{
		Cmd: argv, WorkDir: provider.AgentWorkdir,
		TTY: s.TTY, Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr, Resize: s.Resize,
	})
	if err != nil {
		return fmt.Errorf("running %s in %s: %w", argv[0], slug, err)
	}
	if code != 0 {
		return found(fmt.Errorf("%s in %s exited with status %d", argv[0], slug, code))
	}
	return nil
}

// needRunning refuses a slug whose agent is not running, saying what to
// do, and another user's bottle on a shared engine (its state is not under
// root).
func needRunning(ctx context.Context, be backend.Backend, slug, root string) error {
	all, err := be.List(ctx)
	if err != nil {
		return err
	}
	for _, s := range all {
		if s.Slug != slug {
			continue
		}
		if s.StateDir != "" && !within(root, s.StateDir) {
			return found(fmt.Errorf("bottle %s is not yours (its state is %s): exec runs only in your bottles", slug, s.StateDir))
		}
		if s.State != "running" {
			return found(fmt.Errorf("bottle %s is not running (its agent is %s): \"bot-bottle resume %s\" starts it again", slug, s.State, slug))
		}
		return nil
	}
	return found(fmt.Errorf("%w %s (bot-bottle list shows them)", backend.ErrNotFound, slug))
}
