package dlp

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// naiveHits is the reference: every occurrence, ASCII case-insensitive.
func naiveHits(patterns []string, text string) map[acHit]bool {
	lt := strings.ToLower(text)
	got := map[acHit]bool{}
	for id, p := range patterns {
		lp := strings.ToLower(p)
		if lp == "" {
			continue
		}
		for i := 0; i+len(lp) <= len(lt); i++ {
			if lt[i:i+len(lp)] == lp {
				got[acHit{Pattern: int32(id), End: i + len(lp)}] = true
			}
		}
	}
	return got
}

func TestACMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alpha := "abAB_-c"
	word := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteByte(alpha[r.IntN(len(alpha))])
		}
		return b.String()
	}
	for round := 0; round < 200; round++ {
		var pats []string
		for i := 0; i < 1+r.IntN(8); i++ {
			pats = append(pats, word(1+r.IntN(4)))
		}
		text := word(r.IntN(60))
		if round%4 == 0 {
			text = word(2000 + r.IntN(3000))
		}
		m := newACMatcher(pats)
		// Feed in two chunks to check state carries over.
		cut := 0
		if len(text) > 0 {
			cut = r.IntN(len(text) + 1)
		}
		st, hits := m.scan(0, []byte(text[:cut]), 0, nil)
		_, hits = m.scan(st, []byte(text[cut:]), cut, hits)
		got := map[acHit]bool{}
		for _, h := range hits {
			got[h] = true
		}
		want := naiveHits(pats, text)
		all, _ := m.scanAll([]byte(text), nil, len(text)*8+1)
		if len(all) != len(want) {
			t.Fatalf("scanAll: %d hits, want %d", len(all), len(want))
		}
		for _, h := range all {
			if !want[h] {
				t.Fatalf("scanAll: extra hit %v", h)
			}
		}
		if len(got) != len(want) || len(hits) != len(want) {
			t.Fatalf("patterns %q text %q: got %v want %v", pats, text, hits, want)
		}
		for h := range want {
			if !got[h] {
				t.Fatalf("patterns %q text %q: missing %v", pats, text, h)
			}
		}
	}
}
