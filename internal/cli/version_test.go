package cli

import (
	"strings"
	"testing"
)

// --version answers like the version command.
func TestVersionFlag(t *testing.T) {
	want, _, _ := execCLI(t, t.TempDir(), "", nil, "version")
	out, errOut, code := execCLI(t, t.TempDir(), "", nil, "--version")
	if code != 0 || errOut != "" || out != want || !strings.HasPrefix(out, "bot-bottle ") {
		t.Errorf("--version: code=%d stdout=%q stderr=%q, want %q", code, out, errOut, want)
	}
}
