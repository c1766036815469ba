package sidecarbin

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// tinyModule is a checkout whose main package links net (dynamic when
// cgo is on), and build information naming it as a devel build.
func tinyModule(t *testing.T) (string, *debug.BuildInfo) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":           "module example.com/tiny\n\ngo 1.22\n",
		"cmd/tiny/main.go": "package main\n\nimport \"net\"\n\nfunc main() { net.LookupHost(\"localhost\") }\n",
	}
	for name, data := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	info := &debug.BuildInfo{Path: "example.com/tiny/cmd/tiny", Main: debug.Module{Path: "example.com/tiny", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}}
	return dir, info
}

func isStatic(t *testing.T, path string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// TestEnsureBuildsOnceFromTheCheckout: a dynamic binary from a checkout
// gets a static copy built from that checkout, with one progress line;
// the second start reuses it silently.
func TestEnsureBuildsOnceFromTheCheckout(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go on PATH")
	}
	dir, info := tinyModule(t)
	exe, _ := os.Executable()
	var progress bytes.Buffer
	b := Build{Exe: exe, Info: info, Cwd: filepath.Join(dir, "cmd"), CacheDir: t.TempDir(), Progress: &progress}
	got, err := Ensure(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if !isStatic(t, got) {
		t.Errorf("%s is dynamically linked", got)
	}
	if !strings.Contains(progress.String(), "building the static sidecar binary once") {
		t.Errorf("no progress line: %q", progress.String())
	}
	progress.Reset()
	again, err := Ensure(context.Background(), b)
	if err != nil || again != got || progress.Len() != 0 {
		t.Errorf("second call: %s, %v, progress %q; want the cached %s silently", again, err, progress.String(), got)
	}
}

// TestEnsureSaysWhatIsMissing: no checkout, or no Go, is refused with the
// way around it.
func TestEnsureSaysWhatIsMissing(t *testing.T) {
	_, info := tinyModule(t)
	exe, _ := os.Executable()
	b := Build{Exe: exe, Info: info, Cwd: t.TempDir(), CacheDir: t.TempDir()}
	if _, err := exec.LookPath("go"); err == nil {
		_, err := Ensure(context.Background(), b)
		if err == nil || !strings.Contains(err.Error(), "run it inside that checkout") || !strings.Contains(err.Error(), "BOT_BOTTLE_SIDECAR_BINARY") {
			t.Errorf("outside the checkout: %v", err)
		}
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := Ensure(context.Background(), b); err == nil || !strings.Contains(err.Error(), "needs Go on PATH") {
		t.Errorf("without go: %v", err)
	}
	b.Info = nil
	if _, err := Ensure(context.Background(), b); err == nil || !strings.Contains(err.Error(), "no build information") {
		t.Errorf("without build info: %v", err)
	}
}

// TestReleasedOnlyWithoutVCS: a go install MODULE@VERSION build is built
// by version; a checkout's stamped pseudo-version is not.
func TestReleasedOnlyWithoutVCS(t *testing.T) {
	rel := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}
	co := &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261207-abc"}, Settings: []debug.BuildSetting{{Key: "vcs.revision"}}}
	if !released(rel) || released(co) || released(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}) {
		t.Error("released misjudged a build")
	}
}
