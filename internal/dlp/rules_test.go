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

func TestAssignTemplateFound(t *testing.T) {
	rs, err := defaultRules()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rs.rules {
		if r.assign {
			n++
		}
	}
	// gitleaks builds ~90 rules from this template; if it changes the
	// gate silently stops applying (slower, not weaker).
	if n < 50 {
		t.Fatalf("only %d rules use the assignment template", n)
	}
}

func TestAssignNear(t *testing.T) {
	for text, want := range map[string]bool{
		"twitter_api_key = x":            true,
		"twitter: x":                     true,
		`"twitter_secret":"x"`:           true,
		"twitter integration is gone; x": false,
		"twitter (the site)":             false,
		"twitter":                        false,
		"twitter is where the launch is announced, x": false,
	} {
		if got := assignNear([]byte(text), len("twitter"), 24); got != want {
			t.Errorf("%q: got %v", text, got)
		}
	}
}
