package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/bot-bottle/bot-bottle/internal/backend/engines"
	"github.com/bot-bottle/bot-bottle/internal/sidecarbin"
)

// withStaticSidecar gives env a static sidecar binary when this one is
// dynamic (go install with cgo on) and none is set: built once from the
// same module source into the user's cache, or an error saying what is
// missing.
func withStaticSidecar(ctx context.Context, env Env) (Env, error) {
	err := engines.CheckSidecarBinary(env.Getenv(envSidecarBinary))
	if err == nil || !engines.IsNotStatic(err) {
		return env, err
	}
	if env.Getenv(envSidecarBinary) != "" {
		return env, fmt.Errorf("%w; unset it to let start build a static copy, or run scripts/bot-bottle from the bot-bottle source tree", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return env, err
	}
	info, _ := debug.ReadBuildInfo()
	cache := env.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		cache = filepath.Join(env.Home, ".cache")
	}
	bin, err := sidecarbin.Ensure(ctx, sidecarbin.Build{Exe: exe, Info: info, Cwd: env.Cwd, CacheDir: cache, Progress: env.Stderr})
	if err != nil {
		return env, err
	}
	getenv := env.Getenv
	env.Getenv = func(k string) string {
		if k == envSidecarBinary {
			return bin
		}
		return getenv(k)
	}
	return env, engines.CheckSidecarBinary(bin)
}
