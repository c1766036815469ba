package scripts

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseScript runs scripts/release.sh as a release is made, for one
// Linux and one darwin target (all four take minutes each): the binaries
// are there, static, listed in SHA256SUMS with their real sums, and the
// Linux one says its version. Cross-compiling is slow, so the test runs
// only in its own CI stage (scripts/test.d/40-release.sh).
func TestReleaseScript(t *testing.T) {
	if os.Getenv("BOT_BOTTLE_RELEASE_TEST") != "1" {
		t.Skip("set BOT_BOTTLE_RELEASE_TEST=1 (scripts/test.d/40-release.sh) to cross-compile the release")
	}
	dist := t.TempDir()
	cmd := exec.Command("bash", "release.sh", "v0.0.0-test")
	cmd.Env = append(os.Environ(), "DIST="+dist, "TARGETS=linux/amd64 darwin/arm64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	sums := readSums(t, filepath.Join(dist, "SHA256SUMS"))
	for _, name := range []string{"bot-bottle-v0.0.0-test-linux-amd64", "bot-bottle-v0.0.0-test-darwin-arm64"} {
		data, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatalf("release.sh made no %s: %v", name, err)
		}
		sum := sha256.Sum256(data)
		if sums[name] != hex.EncodeToString(sum[:]) {
			t.Errorf("SHA256SUMS says %q for %s; the file's sum is %x", sums[name], name, sum)
		}
	}
	linux := filepath.Join(dist, "bot-bottle-v0.0.0-test-linux-amd64")
	f, err := elf.Open(linux)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked: the sidecar image cannot carry it", linux)
		}
	}
	out, err := exec.Command(linux, "--version").Output()
	if err != nil || !strings.Contains(string(out), "v0.0.0-test") {
		t.Errorf("%s --version: %q, %v; want the release's version", linux, out, err)
	}
}

// readSums parses sha256sum's output: name → hex sum.
func readSums(t *testing.T, path string) map[string]string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("release.sh wrote no SHA256SUMS: %v", err)
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if sum, name, ok := strings.Cut(sc.Text(), "  "); ok {
			sums[name] = sum
		}
	}
	return sums
}
