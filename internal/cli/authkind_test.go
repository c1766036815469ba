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

// egress check --bottle evaluates the policy start builds: the starter's
// POST /v1/messages narrowing holds with the provider's route composed in.
func TestEgressCheckBottleAgreesWithTheRunningPolicy(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".bot-bottle/bottles/claude.md"), `---
agent_provider:
  template: claude
  auth_token: ANTHROPIC_API_KEY
egress:
  routes:
    - host: api.anthropic.com
      matches:
        - methods: [POST]
          paths: [{type: prefix, value: /v1/messages}]
---
`)
	environ := []string{"ANTHROPIC_API_KEY=sk-ant-api03-theSecretValue"}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-X", "DELETE", "https://api.anthropic.com/v1/files/x"}, 1, "refuse (no-match)"},
		{[]string{"-X", "POST", "https://api.anthropic.com/v1/messages"}, 0, "allow (allowed)"},
	} {
		out, errOut, code := execCLI(t, home, home, environ, append([]string{"egress", "check", "--bottle", "claude"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: code=%d stdout=%q stderr=%q, want %d %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
	_, errOut, code := execCLI(t, home, home, environ, "egress", "check", "https://api.anthropic.com/")
	if code != 2 || !strings.Contains(errOut, "--bottle NAME") {
		t.Errorf("no policy on the host: code=%d stderr=%q", code, errOut)
	}
}
