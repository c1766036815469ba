// Package sidecarbin makes the static bot-bottle the sidecar image carries
// when the running binary is dynamic (go install with cgo on): it builds
// one, once, from the same module source, into the user's cache directory.
package sidecarbin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// Build is what Ensure needs to know about the running binary.
type Build struct {
	// Exe is the running binary (its hash names the cached copy).
	Exe string
	// Info is its build information (debug.ReadBuildInfo).
	Info *debug.BuildInfo
	// Cwd is where a checkout of the module is looked for.
	Cwd string
	// CacheDir is the user's cache directory.
	CacheDir string
	// Progress gets one line when a build runs.
	Progress io.Writer
}

// hint is the way around every failure.
const hint = "set BOT_BOTTLE_SIDECAR_BINARY to a static bot-bottle (a release binary, or CGO_ENABLED=0 go build ./cmd/bot-bottle)"

// Ensure returns a static bot-bottle built from the source of b, building
// it on the first call for this binary.
func Ensure(ctx context.Context, b Build) (string, error) {
	if b.Info == nil {
		return "", fmt.Errorf("this bot-bottle carries no build information to rebuild it statically; %s", hint)
	}
	key, err := fileKey(b.Exe)
	if err != nil {
		return "", err
	}
	out := filepath.Join(b.CacheDir, "bot-bottle", "sidecar", key, "bot-bottle")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("this bot-bottle is dynamically linked and building the static sidecar copy needs Go on PATH (the version in go.mod, https://go.dev/dl/); or %s", hint)
	}
	cmd, err := buildCmd(ctx, goBin, b, out)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", fmt.Errorf("making the sidecar binary cache: %w", err)
	}
	if b.Progress != nil {
		fmt.Fprintf(b.Progress, "• building the static sidecar binary once (CGO_ENABLED=0, a few minutes; cached in %s)\n", filepath.Dir(out))
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the static sidecar binary (%s): %w\n%s; or %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(msg)), hint)
	}
	if err := os.Rename(filepath.Join(out+".d", path.Base(b.Info.Path)), out); err != nil {
		return "", fmt.Errorf("caching the sidecar binary: %w", err)
	}
	return out, nil
}

// buildCmd builds b's main package into the folder out+".d": from a checkout of the
// module when the binary came from one, else from the module proxy at the
// binary's version (go install MODULE@VERSION). It uses go install's own
// flags (no -trimpath): every package that does not reach cgo through net
// or os/user is then taken from the build cache the dynamic install just
// filled, about 60 % of them (356 of 925 compiled instead of all).
func buildCmd(ctx context.Context, goBin string, b Build, out string) (*exec.Cmd, error) {
	tmp := out + ".d"
	var cmd *exec.Cmd
	if released(b.Info) {
		cmd = exec.CommandContext(ctx, goBin, "install", b.Info.Path+"@"+b.Info.Main.Version)
		cmd.Dir = filepath.Dir(out)
	} else {
		dir, err := checkout(b.Cwd, b.Info.Main.Path)
		if err != nil {
			return nil, err
		}
		pkg := "." + strings.TrimPrefix(b.Info.Path, b.Info.Main.Path)
		cmd = exec.CommandContext(ctx, goBin, "build", "-o", tmp+"/", pkg)
		cmd.Dir = dir
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOBIN="+tmp)
	return cmd, nil
}

// released reports whether the binary was installed by version (go
// install MODULE@VERSION), not built from a checkout.
func released(info *debug.BuildInfo) bool {
	v := info.Main.Version
	if v == "" || v == "(devel)" || strings.HasSuffix(v, "+dirty") {
		return false
	}
	for _, s := range info.Settings {
		if strings.HasPrefix(s.Key, "vcs.") {
			return false // stamped from a checkout: build that checkout
		}
	}
	return true
}

// checkout finds the module root of module at or above dir.
func checkout(dir, module string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && modulePath(string(data)) == module {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("this bot-bottle is dynamically linked and was built from a checkout of %s: run it inside that checkout so its static sidecar copy can be built, or %s", module, hint)
		}
	}
}

// modulePath is the module line of a go.mod.
func modulePath(gomod string) string {
	for _, line := range strings.Split(gomod, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// fileKey names the cached copy after the running binary's content.
func fileKey(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading the bot-bottle binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading the bot-bottle binary: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
