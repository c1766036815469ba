package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEverySlugCommandCompletesSlugs: every command whose first argument
// is a SLUG completes the user's bottles, not only logs.
func TestEverySlugCommandCompletesSlugs(t *testing.T) {
	home := t.TempDir()
	for _, slug := range []string{"impl-k3x9q", "shell-ab12c"} {
		writeFile(t, filepath.Join(home, ".bot-bottle/state", slug, "metadata.json"), `{"slug":"`+slug+`"}`)
	}
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
		if f := strings.Fields(c.Use); len(f) > 1 && strings.Trim(f[1], "[]") == "SLUG" {
			paths = append(paths, path)
		}
	}
	walk(newRootCmd(Env{Home: home}), nil)
	for _, want := range []string{"exec", "rm", "stop", "commit", "resume", "diff", "export", "doctor", "logs", "audit"} {
		found := false
		for _, p := range paths {
			found = found || strings.Join(p, " ") == want
		}
		if !found {
			t.Errorf("no command %q takes a SLUG (have %v)", want, paths)
		}
	}
	for _, p := range paths {
		args := append(append([]string{"__complete"}, p...), "i")
		out, _, code := execCLI(t, home, home, nil, args...)
		if code != 0 || !strings.HasPrefix(out, "impl-k3x9q\n:4\n") {
			t.Errorf("%s: slug completion = %q", strings.Join(p, " "), out)
		}
	}
}
