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

// The claude starter `init` writes: its narrowing holds in the composed
// policy, and an API key is sent as x-api-key.
func TestClaudeStarterNarrowingHolds(t *testing.T) {
	home := t.TempDir()
	if _, errOut, code := execCLI(t, home, home, nil, "init"); code != 0 {
		t.Fatalf("init: %d %s", code, errOut)
	}
	environ := []string{"ANTHROPIC_API_KEY=sk-ant-api03-theSecretValue"}
	out, errOut, code := execCLI(t, home, home, environ, "egress", "check", "--bottle", "claude", "-X", "DELETE", "https://api.anthropic.com/v1/files/x")
	if code != 1 || !strings.HasPrefix(out, "refuse") {
		t.Errorf("DELETE through the starter: code=%d %q %q", code, out, errOut)
	}
	out, _, code = execCLI(t, home, home, environ, "start", "--bottle", "claude", "--dry-run")
	if code != 0 || !strings.Contains(out, "api.anthropic.com, auth x-api-key: $ANTHROPIC_API_KEY, match POST prefix /v1/messages") {
		t.Errorf("dry run: code=%d\n%s", code, out)
	}
}

// agent_provider.auth_kind overrides the value's shape: an OAuth token
// whose shape says API key still goes as Bearer, and oauth on a template
// with no OAuth login is refused, saying what to do.
func TestStartDryRunExplicitAuthKind(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".bot-bottle/bottles/claude.md"), "---\nagent_provider:\n  template: claude\n  auth_token: ANTHROPIC_API_KEY\n  auth_kind: oauth\n---\n")
	writeFile(t, filepath.Join(home, ".bot-bottle/bottles/codex.md"), "---\nagent_provider:\n  template: codex\n  auth_token: OPENAI_API_KEY\n  auth_kind: oauth\n---\n")
	out, errOut, code := execCLI(t, home, home, []string{"ANTHROPIC_API_KEY=not-shaped-like-either"}, "start", "--bottle", "claude", "--dry-run")
	if code != 0 || !strings.Contains(out, "auth Authorization: Bearer $ANTHROPIC_API_KEY") || !strings.Contains(out, "(auth_kind oauth)") {
		t.Errorf("claude, auth_kind oauth: code=%d stderr=%q\n%s", code, errOut, out)
	}
	_, errOut, code = execCLI(t, home, home, []string{"OPENAI_API_KEY=sk-proj-x"}, "start", "--bottle", "codex", "--dry-run")
	if code == 0 || !strings.Contains(errOut, "takes only an API key") || !strings.Contains(errOut, "forward_host_credentials") {
		t.Errorf("codex, auth_kind oauth: code=%d stderr=%q", code, errOut)
	}
}
