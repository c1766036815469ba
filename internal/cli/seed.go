package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/bot-bottle/bot-bottle/images"
	"github.com/bot-bottle/bot-bottle/internal/imagebuild"
	"github.com/bot-bottle/bot-bottle/scripts"
)

// seedCache keeps the downloaded .debs across seeds (root's, as debootstrap
// runs as root), one folder per base so two seeds never share a download.
const seedCache = "/var/cache/bot-bottle/debootstrap"

// seeder seeds base images: the real one runs the embedded
// seed-base-image.sh; tests put their own.
type seeder func(ctx context.Context, env Env, tag string, sidecar bool, out io.Writer) error

// withSeeding runs launch and, when it fails because a base image is
// missing (a fresh engine), seeds both bases once, in parallel, and runs
// it again: go install then start works with no checkout.
func withSeeding(ctx context.Context, env Env, seed seeder, launch func() error) error {
	err := launch()
	if !errors.Is(err, imagebuild.ErrBaseMissing) || seed == nil {
		return err
	}
	fmt.Fprintln(env.Stderr, "• a base image the images are built FROM is missing (a fresh engine)")
	if err := seedBases(ctx, env, seed); err != nil {
		return err
	}
	return launch()
}

// seedBases seeds the agents' base and the sidecar's at once, each line
// of output prefixed with its tag, with the step and an estimate said
// first.
func seedBases(ctx context.Context, env Env, seed seeder) error {
	tags := []struct {
		tag     string
		sidecar bool
	}{{orDefault(env.Getenv(envBaseImage), images.DefaultBase), false}, {orDefault(env.Getenv(envSidecarBaseImage), images.SidecarBase), true}}
	fmt.Fprintf(env.Stderr, "• seeding the base images %s and %s in parallel from Debian packages (debootstrap, then import; about 3 minutes the first time on 2 cores, .debs kept in %s)\n", tags[0].tag, tags[1].tag, seedCache)
	began := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(tags))
	var mu sync.Mutex // one line at a time on stderr
	for i, t := range tags {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr, pw := io.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				sc := bufio.NewScanner(pr)
				for sc.Scan() {
					mu.Lock()
					fmt.Fprintf(env.Stderr, "  [%s] %s\n", t.tag, sc.Text())
					mu.Unlock()
				}
			}()
			errs[i] = seed(ctx, env, t.tag, t.sidecar, pw)
			pw.Close()
			<-done
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("seeding the base images (the lines above say why): %w", err)
	}
	fmt.Fprintf(env.Stderr, "• base images seeded in %s\n", time.Since(began).Round(time.Second))
	return nil
}

// scriptSeeder runs the embedded seed-base-image.sh; when not root it asks
// sudo for the password once, on the terminal, before the two seeds run
// side by side without prompting.
func scriptSeeder() seeder {
	var once sync.Once
	var sudoErr error
	return func(ctx context.Context, env Env, tag string, sidecar bool, out io.Writer) error {
		if os.Geteuid() != 0 {
			once.Do(func() {
				if _, err := exec.LookPath("sudo"); err != nil {
					sudoErr = fmt.Errorf("seeding the base images needs root (debootstrap) and there is no sudo: run bot-bottle start as root once")
					return
				}
				fmt.Fprintln(env.Stderr, "bot-bottle: debootstrap needs root: asking sudo")
				cmd := exec.CommandContext(ctx, "sudo", "-v")
				cmd.Stdin, cmd.Stdout, cmd.Stderr = env.Stdin, env.Stderr, env.Stderr
				if err := cmd.Run(); err != nil {
					sudoErr = fmt.Errorf("sudo -v: %w", err)
				}
			})
			if sudoErr != nil {
				return sudoErr
			}
		}
		return runSeedScript(ctx, env, tag, sidecar, out)
	}
}

// runSeedScript runs the embedded seed-base-image.sh for tag, as root:
// itself when root, else through sudo -n (scriptSeeder asked first).
func runSeedScript(ctx context.Context, env Env, tag string, sidecar bool, out io.Writer) error {
	dir, err := os.MkdirTemp("", "bot-bottle-seed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "seed-base-image.sh")
	if err := os.WriteFile(script, scripts.SeedBaseImage, 0o755); err != nil {
		return err
	}
	cache := filepath.Join(seedCache, "agent")
	args := []string{"env", "BOT_BOTTLE_SEED_CACHE=" + cache}
	if sidecar {
		args[1] = "BOT_BOTTLE_SEED_CACHE=" + filepath.Join(seedCache, "sidecar")
	}
	// sudo drops the environment: keep what says where the engine and the
	// mirror are.
	for _, k := range []string{"DOCKER_HOST", "BOT_BOTTLE_DEBIAN_MIRROR", "BOT_BOTTLE_DEBIAN_SECURITY_MIRROR", "PATH"} {
		if v := env.Getenv(k); v != "" {
			args = append(args, k+"="+v)
		}
	}
	args = append(args, "bash", script, "--tag", tag)
	if sidecar {
		args = append(args, "--sidecar")
	}
	if os.Geteuid() != 0 {
		args = append([]string{"sudo", "-n"}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("seeding %s: %w", tag, err)
	}
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
