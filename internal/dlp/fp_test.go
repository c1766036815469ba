package dlp

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
)

// cleanCorpus gathers real-looking agent traffic that holds no secrets:
// Go source (code the agent reads and writes), Markdown docs (prose), and
// both wrapped as JSON chat requests the way a provider call carries them.
func cleanCorpus(t testing.TB, maxBytes int) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	total := 0
	add := func(name string, b []byte) {
		if total >= maxBytes {
			return
		}
		out[name] = b
		total += len(b)
	}
	goroot := runtime.GOROOT()
	for _, dir := range []string{"src/net/http", "src/encoding/json", "src/os/exec", "src/go/parser", "src/text/template", "src/cmd/go/internal/modload"} {
		_ = filepath.WalkDir(filepath.Join(goroot, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				if b, err := os.ReadFile(p); err == nil {
					add(p, b)
				}
			}
			return nil
		})
	}
	_ = filepath.WalkDir(filepath.Join(goroot, "doc"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".md") || strings.HasSuffix(p, ".html")) {
			if b, err := os.ReadFile(p); err == nil {
				add(p, b)
			}
		}
		return nil
	})
	// Prose: the Markdown of the modules in the module cache (gitleaks'
	// own docs excluded: they are full of sample secrets).
	if mc := os.Getenv("GOMODCACHE"); mc != "" || true {
		if mc == "" {
			mc = filepath.Join(os.Getenv("HOME"), "go", "pkg", "mod")
		}
		_ = filepath.WalkDir(mc, func(p string, d fs.DirEntry, err error) error {
			if total >= maxBytes {
				return filepath.SkipAll
			}
			if err != nil {
				return nil
			}
			if d.IsDir() && (d.Name() == "cache" || d.Name() == "testdata" || strings.Contains(d.Name(), "gitleaks")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, ".md") {
				if b, err := os.ReadFile(p); err == nil {
					add(p, b)
				}
			}
			return nil
		})
	}
	// Chat-shaped JSON: the same texts as a provider request body.
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		if i%3 != 0 {
			continue
		}
		msg := map[string]any{
			"model": "claude-sonnet-4-5", "max_tokens": 4096, "stream": true,
			"messages": []map[string]string{
				{"role": "user", "content": "Please review this file and fix the bug in the retry loop."},
				{"role": "assistant", "content": "I'll read it first."},
				{"role": "user", "content": string(out[n])},
			},
		}
		b, _ := json.Marshal(msg)
		out[n+".json"] = b
	}
	return out
}

// TestFalsePositivesOnCleanTraffic: token_patterns must stay quiet on
// ordinary code and prose. With DLP_FP_GITLEAKS=1 it also runs gitleaks'
// full default rule set over the same corpus and logs what it reports
// (the reason generic-api-key and friends are left out).
func TestFalsePositivesOnCleanTraffic(t *testing.T) {
	// A 4 MB sample keeps the test fast; the measurement run (with
	// gitleaks) reads up to 16 MB.
	limit := 4 << 20
	if os.Getenv("DLP_FP_GITLEAKS") == "1" {
		limit = 16 << 20
	}
	corpus := cleanCorpus(t, limit)
	if len(corpus) < 20 {
		t.Skip("GOROOT sources not available for the clean corpus")
	}
	o, err := NewOutbound(OutboundConfig{Detectors: []string{DetectorTokenPatterns, DetectorFinancial}, MaxBody: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	size, ours := 0, map[string]int{}
	for name, b := range corpus {
		size += len(b)
		res, err := o.Scan(Request{Method: "POST", Body: b})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Findings {
			ours[f.Rule]++
			t.Logf("ours: %s in %s: %s", f.Rule, name, f.Redacted)
		}
	}
	t.Logf("clean corpus: %d files, %d bytes; our findings by rule: %v", len(corpus), size, ours)
	// The same texts as responses: naive_injection_detection must not
	// block any of them.
	inbound := map[string]int{}
	for name, b := range corpus {
		if v := DetectInjection(b); v.Level != None {
			inbound[v.Level.String()+":"+v.Rule]++
			if v.Level == High {
				t.Errorf("inbound High on clean %s: %s", name, v.Reason)
			}
		}
	}
	t.Logf("inbound verdicts on the clean corpus: %v", inbound)
	if os.Getenv("DLP_FP_GITLEAKS") == "1" {
		d, err := detect.NewDetectorDefaultConfig()
		if err != nil {
			t.Fatal(err)
		}
		theirs := map[string]int{}
		for _, b := range corpus {
			for _, f := range d.DetectBytes(b) {
				theirs[f.RuleID]++
			}
		}
		t.Logf("gitleaks default rules on the same corpus: %v", theirs)
	}
	n := 0
	for _, c := range ours {
		n += c
	}
	if n > 0 {
		t.Errorf("%d false positives on clean traffic: %v", n, ours)
	}
}

// TestPromptsWithSecretWords: hand-written prompt lines full of words like
// key, token, secret and password (testdata/clean) trip gitleaks' generic
// rule but must not trip token_patterns.
func TestPromptsWithSecretWords(t *testing.T) {
	b, err := os.ReadFile("testdata/clean/prompts.txt")
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOutbound(OutboundConfig{Detectors: []string{DetectorTokenPatterns}})
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		js, _ := json.Marshal(map[string]string{"role": "user", "content": line})
		for _, body := range [][]byte{[]byte(line), js} {
			res, err := o.Scan(Request{Method: "POST", Body: body})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Findings) > 0 {
				t.Errorf("line %d: false positive %v", i+1, res.Findings)
			}
		}
	}
	if d, err := detect.NewDetectorDefaultConfig(); err == nil {
		t.Logf("gitleaks default rules on the same lines: %d findings", len(d.DetectBytes(b)))
	}
}
