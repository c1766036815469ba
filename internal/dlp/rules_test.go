package dlp

import (
	"testing"
)

func TestRuleSetAnalysis(t *testing.T) {
	rs, err := defaultRules()
	if err != nil {
		t.Fatal(err)
	}
	count := map[ruleMode]int{}
	for _, r := range rs.rules {
		count[r.mode]++
		if r.mode != modeAnchored {
			t.Logf("mode %d rule: %s", r.mode, r.rule.RuleID)
		}
	}
	t.Logf("%d rules (anchored %d, window %d, segment %d), %d keywords, %d skipped", len(rs.rules), count[modeAnchored], count[modeWindow], count[modeSegment], len(rs.keywords), len(rs.skipped))
	for id, why := range rs.skipped {
		t.Logf("skipped %s: %s", id, why)
	}
	if len(rs.rules) < 150 {
		t.Fatalf("only %d rules selected", len(rs.rules))
	}
}
