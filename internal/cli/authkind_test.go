package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// The claude template sends each kind of Anthropic credential where the
// API reads it: an API key as x-api-key, an OAuth token as Bearer.
func TestStartDryRunAuthKindFromTheValue(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".bot-bottle/bottles/claude.md"), "---\nagent_provider:\n  template: claude\n  auth_token: ANTHROPIC_API_KEY\n---\n")
	for value, want := range map[string]string{
		"sk-ant-api03-theSecretValue": "auth x-api-key: $ANTHROPIC_API_KEY",
		"sk-ant-oat01-theSecretValue": "auth Authorization: Bearer $ANTHROPIC_API_KEY",
	} {
		out, errOut, code := execCLI(t, home, home, []string{"ANTHROPIC_API_KEY=" + value}, "start", "--bottle", "claude", "--dry-run")
		if code != 0 || !strings.Contains(out, want) || strings.Contains(out, "theSecretValue") {
			t.Errorf("%s: code=%d stderr=%q, want %q in:\n%s", value[:12], code, errOut, want, out)
		}
	}
}
