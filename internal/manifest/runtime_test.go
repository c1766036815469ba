package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeBottles(t *testing.T, files map[string]string) string {
	t.Helper()
	home := t.TempDir()
	for name, body := range files {
		path := filepath.Join(home, ".bot-bottle", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// TestRuntimeKey: runtime is runsc or runc, anything else is refused at
// load naming the key; a child's value wins over its parent's.
func TestRuntimeKey(t *testing.T) {
	home := writeBottles(t, map[string]string{
		"bottles/base.md":  "---\nruntime: runsc\n---\n",
		"bottles/child.md": "---\nextends: base\nruntime: runc\n---\n",
		"bottles/kata.md":  "---\nruntime: kata\n---\n",
		"agents/a.md":      "---\nbottle: base\n---\n",
		"agents/b.md":      "---\nbottle: child\n---\n",
		"agents/c.md":      "---\nbottle: kata\n---\n",
	})
	set := Load(home, home)
	for agent, want := range map[string]string{"a": "runsc", "b": "runc"} {
		res, err := set.Resolve(agent, nil)
		if err != nil {
			t.Fatalf("%s: %v", agent, err)
		}
		if got := MergeBottles(res.Bottles[0].Spec).Runtime; got != want {
			t.Errorf("%s: runtime %q, want %q", agent, got, want)
		}
	}
	_, err := set.Resolve("c", nil)
	if err == nil || !strings.Contains(err.Error(), "runtime") || !strings.Contains(err.Error(), "kata") {
		t.Errorf("runtime: kata was not refused naming the key: %v", err)
	}
}
