package audit

import (
	"os"
	"path/filepath"
	"testing"
)

// TestVerifyReportsEveryTruncation cuts a good log at every byte and
// checks that Verify reports each cut as a broken log, never a panic and
// never OK.
func TestVerifyReportsEveryTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.jsonl")
	for i := 0; i < 3; i++ {
		if err := Append(path, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(path); err != nil || !rep.OK {
		t.Fatalf("the whole log: %+v, %v", rep, err)
	}
	for n := len(full) - 1; n >= 0; n-- {
		if err := os.WriteFile(path, full[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(path)
		if err != nil {
			t.Errorf("cut at %d: error %v, want a report", n, err)
			continue
		}
		if rep.OK || rep.Problem == "" {
			t.Errorf("cut at byte %d of %d: reported OK (%+v)", n, len(full), rep)
		}
	}
}
