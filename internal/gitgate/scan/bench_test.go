package scan

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
)

// benchData is n bytes of seeded random data: raw, or base64 text lines.
func benchData(n int, text bool) string {
	rng := rand.New(rand.NewPCG(7, 9))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if !text {
		return string(b)
	}
	s := base64.StdEncoding.EncodeToString(b)[:n]
	out := make([]byte, 0, n+n/76)
	for i := 0; i < len(s); i += 76 {
		out = append(out, s[i:min(i+76, len(s))]...)
		out = append(out, '\n')
	}
	return string(out)
}

// benchSize is the data each BenchmarkDetect case scans.
const benchSize = 1 << 20

// BenchmarkDetect measures the detector on 1 MiB, chunked as Scan does,
// at the decode depths the gate uses for text and for binary blobs.
func BenchmarkDetect(b *testing.B) {
	rules, err := DefaultRules()
	if err != nil {
		b.Fatal(err)
	}
	for _, text := range []bool{true, false} {
		for _, depth := range []int{0, 1, 3} {
			name := map[bool]string{true: "text", false: "binary"}[text] + "/decode" + strconv.Itoa(depth)
			b.Run(name, func(b *testing.B) {
				data := benchData(benchSize, text)
				d := detect.NewDetector(rules.cfg)
				d.IgnoreGitleaksAllow = true
				d.MaxDecodeDepth = depth
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					for _, c := range chunks(data, 1) {
						d.DetectContext(context.Background(), detect.Fragment{Raw: c.raw, FilePath: "f", StartLine: c.line})
					}
				}
			})
		}
	}
}

// BenchmarkPrefiltered measures what Scan spends per chunk: the prefilter,
// and the detector on the chunks it passes on (the fraction is reported).
func BenchmarkPrefiltered(b *testing.B) {
	rules, err := DefaultRules()
	if err != nil {
		b.Fatal(err)
	}
	src := ""
	for _, c := range goSource(b, benchSize) {
		src += c
	}
	inputs := map[string]string{"gosource": src[:min(len(src), benchSize)],
		"text": benchData(benchSize, true), "binary": benchData(benchSize, false)}
	for _, name := range []string{"gosource", "text", "binary"} {
		for _, pre := range []bool{false, true} {
			b.Run(name+map[bool]string{false: "/detector", true: "/prefiltered"}[pre], func(b *testing.B) {
				data := inputs[name]
				d := detect.NewDetector(rules.cfg)
				d.IgnoreGitleaksAllow = true
				d.MaxDecodeDepth = decodeDepth
				b.SetBytes(int64(len(data)))
				s := &scanner{det: d, pre: rules.pre, cfg: rules.cfg, dets: map[string]*detect.Detector{}}
				passed, total := 0, 0
				for b.Loop() {
					for _, c := range chunks(data, 1) {
						total++
						det := d
						if pre {
							v := rules.pre.candidate(c.raw, "f", decodeDepth)
							if !v.any() {
								continue
							}
							det = s.detectorFor(context.Background(), v)
						}
						passed++
						det.DetectContext(context.Background(), detect.Fragment{Raw: c.raw, FilePath: "f", StartLine: c.line})
					}
				}
				b.ReportMetric(float64(passed)/float64(total), "passed/chunk")
			})
		}
	}
}

// BenchmarkScanPush measures Scan end to end on a repository: one commit
// that adds one file of BOT_BOTTLE_SCAN_BENCH_MB MiB (default 4) of Go
// source, random base64 text or random binary, as bench/gitgate/run.sh
// pushes it: git's own work (listing, diffs, blobs) plus the scan.
func BenchmarkScanPush(b *testing.B) {
	rules, err := DefaultRules()
	if err != nil {
		b.Fatal(err)
	}
	n := 4 << 20
	if s := os.Getenv("BOT_BOTTLE_SCAN_BENCH_MB"); s != "" {
		mb, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("BOT_BOTTLE_SCAN_BENCH_MB: %v", err)
		}
		n = mb << 20
	}
	var src strings.Builder
	for _, c := range goSource(b, n) {
		src.WriteString(c)
	}
	inputs := map[string]string{"gosource": src.String()[:min(src.Len(), n)],
		"text": benchData(n, true), "binary": benchData(n, false)}
	for _, name := range []string{"gosource", "text", "binary"} {
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			benchGit(b, dir, "init", "-q", "-b", "main")
			if err := os.WriteFile(filepath.Join(dir, "README"), []byte("hello\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			benchGit(b, dir, "add", "README")
			benchGit(b, dir, "commit", "-q", "-m", "initial")
			benchGit(b, dir, "checkout", "-q", "-b", "work")
			if err := os.WriteFile(filepath.Join(dir, "data"), []byte(inputs[name]), 0o644); err != nil {
				b.Fatal(err)
			}
			benchGit(b, dir, "add", "data")
			benchGit(b, dir, "commit", "-q", "-m", "big")
			tip := benchGit(b, dir, "rev-parse", "HEAD")
			b.SetBytes(int64(len(inputs[name])))
			for b.Loop() {
				fs, err := rules.Scan(context.Background(), Push{GitDir: dir, Tips: []string{tip}, Exclude: []string{"main"}})
				if err != nil {
					b.Fatal(err)
				}
				if name != "gosource" && len(fs) != 0 {
					b.Fatalf("findings in random data: %v", fs)
				}
			}
		})
	}
}

func benchGit(b *testing.B, dir string, args ...string) string {
	b.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}
