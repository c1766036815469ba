package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
)

func TestStartLabelAndColor(t *testing.T) {
	home := t.TempDir()
	out, errOut, code := execCLI(t, home, home, nil, "start", "--dry-run", "--format", "json", "--label", "fix the parser", "--color", "cyan")
	if code != 0 {
		t.Fatalf("code=%d stderr=%q", code, errOut)
	}
	var p struct{ Label, Color string }
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if p.Label != "fix the parser" || p.Color != "cyan" {
		t.Errorf("plan label=%q color=%q", p.Label, p.Color)
	}
	for _, bad := range [][]string{
		{"--color", "black"},
		{"--color", "\x1b[31m"},
		{"--label", "two\nlines"},
		{"--label", "bell\a"},
		{"--label", strings.Repeat("x", 81)},
	} {
		_, errOut, code := execCLI(t, home, home, nil, append([]string{"start", "--dry-run"}, bad...)...)
		if code != 2 || !strings.Contains(errOut, bad[0]) {
			t.Errorf("%q: code=%d stderr=%q, want 2 naming the flag", bad, code, errOut)
		}
	}
}

func TestListShowsColorFromMetadata(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "impl-k3x9q")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := lifecycle.WriteMetadata(dir, lifecycle.Metadata{Slug: "impl-k3x9q", Agent: "impl", Label: "fix", Color: "pink"}); err != nil {
		t.Fatal(err)
	}
	rows := joinRows(nil, map[string]string{"impl-k3x9q": dir})
	if len(rows) != 1 || rows[0].Color != "pink" || rows[0].Label != "fix" {
		t.Errorf("rows = %+v", rows)
	}
}
