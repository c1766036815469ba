package dlp

import (
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
)

// TestEgressModeIgnoresCodeScanningExcuses: values gitleaks lets through
// as placeholders (an AWS key ending in EXAMPLE, a GitHub token with a
// low-entropy body) are findings here: an exfiltrating agent picks what it
// sends. The test also shows gitleaks itself excusing them, so it fails if
// the heuristics come back.
func TestEgressModeIgnoresCodeScanningExcuses(t *testing.T) {
	o := knownScanner(t, DetectorTokenPatterns)
	d, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, text, rule string }{
		{"aws key ending in EXAMPLE", "aws_access_key_id=AKIAIOSFODNN7EXAMPLE", "aws-access-token"},
		{"github token, low entropy", "token ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "github-pat"},
		{"slack token, repeated body", "xoxb-1111111111-1111111111-aaaaaaaaaaaaaaaaaaaaaaaa", "slack-bot-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if fs := d.DetectString(tc.text); len(fs) != 0 {
				t.Errorf("gitleaks reports it too (%s): not an excuse case", fs[0].RuleID)
			}
			res, err := o.Scan(Request{Method: "POST", Body: []byte(tc.text)})
			if err != nil {
				t.Fatal(err)
			}
			if !hasRule(res.Findings, tc.rule) {
				t.Fatalf("no %s finding in %q: %+v", tc.rule, tc.text, res.Findings)
			}
		})
	}
}

func hasRule(fs []Finding, rule string) bool {
	for _, f := range fs {
		if f.Rule == rule {
			return true
		}
	}
	return false
}
