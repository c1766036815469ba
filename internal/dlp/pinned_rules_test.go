package dlp

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updatePinned = flag.Bool("update-pinned-rules", false, "rewrite testdata/rules-in-force.txt from the rules in force")

// TestRulesInForceArePinned pins the set of DLP rules in force by ID: a
// change that drops a default rule (a new exclusion, a rule that no longer
// builds) fails here until the pinned list is changed on purpose, with
// -update-pinned-rules, in the same reviewed change.
func TestRulesInForceArePinned(t *testing.T) {
	rs, err := defaultRules()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs.rules {
		got = append(got, r.rule.RuleID)
	}
	slices.Sort(got)
	file := filepath.Join("testdata", "rules-in-force.txt")
	if *updatePinned {
		if err := os.WriteFile(file, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(data))
	for _, id := range want {
		if _, ok := slices.BinarySearch(got, id); !ok {
			t.Errorf("DLP rule %s is no longer in force (skipped: %q)", id, rs.skipped[id])
		}
	}
	for _, id := range got {
		if !slices.Contains(want, id) {
			t.Errorf("DLP rule %s is in force but not pinned: add it with -update-pinned-rules", id)
		}
	}
	if len(want) < 100 {
		t.Errorf("only %d rules pinned: the default set has about 200", len(want))
	}
}
