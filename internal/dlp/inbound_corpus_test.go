package dlp

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusSamples reads testdata/inbound/<kind>/<category>.txt: samples
// separated by a line holding only %%.
func corpusSamples(t *testing.T, kind string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "inbound", kind, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s corpus: %v", kind, err)
	}
	out := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cat := strings.TrimSuffix(filepath.Base(f), ".txt")
		for _, s := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n%%\n") {
			out[cat] = append(out[cat], s)
		}
	}
	return out
}

// TestInboundCorpus: every malicious sample is caught (blocked, or at
// least logged as medium) and no benign one is blocked, per category.
// Recall counts High and Medium (what the user sees: a 403 or a warning
// line); false positives count High (a 403 on ordinary traffic). Both
// figures are printed with the High-only recall and the Medium rate.
func TestInboundCorpus(t *testing.T) {
	mal, ben := corpusSamples(t, "malicious"), corpusSamples(t, "benign")
	var nMal, caught, blocked, nBen, fp, warned int
	for _, cat := range sortedKeys(mal) {
		c, h := 0, 0
		for _, s := range mal[cat] {
			v := DetectInjection([]byte(s))
			if v.Level >= Medium {
				c++
			} else {
				t.Logf("missed %s: %.120q", cat, s)
			}
			if v.Level == High {
				h++
			}
		}
		t.Logf("malicious %-22s n=%3d recall %.1f%% (blocked %.1f%%)", cat, len(mal[cat]), pct(c, len(mal[cat])), pct(h, len(mal[cat])))
		nMal, caught, blocked = nMal+len(mal[cat]), caught+c, blocked+h
	}
	for _, cat := range sortedKeys(ben) {
		f, m := 0, 0
		for _, s := range ben[cat] {
			switch v := DetectInjection([]byte(s)); v.Level {
			case High:
				f++
				t.Logf("false positive %s: %s: %.120q", cat, v.Reason, s)
			case Medium:
				m++
			}
		}
		t.Logf("benign    %-22s n=%3d blocked %.1f%% (warned %.1f%%)", cat, len(ben[cat]), pct(f, len(ben[cat])), pct(m, len(ben[cat])))
		nBen, fp, warned = nBen+len(ben[cat]), fp+f, warned+m
	}
	t.Logf("total: malicious %d recall %.1f%% (blocked %.1f%%); benign %d false positives %.1f%% (warned %.1f%%)",
		nMal, pct(caught, nMal), pct(blocked, nMal), nBen, pct(fp, nBen), pct(warned, nBen))
	if nMal < 300 || nBen < 150 {
		t.Fatalf("corpus too small: %d malicious, %d benign", nMal, nBen)
	}
	if pct(caught, nMal) < 98 {
		t.Errorf("recall %.1f%% < 98%%", pct(caught, nMal))
	}
	if pct(fp, nBen) > 1 {
		t.Errorf("false positives %.1f%% > 1%%", pct(fp, nBen))
	}
	// A warning on ordinary pages teaches users to ignore warnings: an
	// example discussed on a page about injection is no warning.
	if pct(warned, nBen) > 12 {
		t.Errorf("benign warned %.1f%% > 12%%", pct(warned, nBen))
	}
}

func pct(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }

func sortedKeys(m map[string][]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
