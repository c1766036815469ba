package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMECoversEveryCommandAndDoc keeps README.md honest: its command
// table has a row for every command the root registers (hidden ones
// aside), and it links every page under docs/.
func TestREADMECoversEveryCommandAndDoc(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, c := range newRootCmd(Env{}).Commands() {
		if c.Hidden || c.Name() == "help" {
			continue
		}
		if !strings.Contains(readme, "\n| `"+c.Name()) && !strings.Contains(readme, ", `"+c.Name()+" ") {
			t.Errorf("README.md's command table has no row for %q", c.Name())
		}
	}
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if link := "(docs/" + filepath.Base(d) + ")"; !strings.Contains(readme, link) {
			t.Errorf("README.md does not link %s", link)
		}
	}
}
