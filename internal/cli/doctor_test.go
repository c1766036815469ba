package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/attest/probe"
)

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	rc := Run(context.Background(), args, Env{
		Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(string) string { return "" }, Environ: func() []string { return nil },
		Home: t.TempDir(), Cwd: t.TempDir(),
	})
	return rc, stdout.String(), stderr.String()
}

// The probe program speaks JSON on stdin and stdout and is hidden from
// help.
func TestAttestProbeCommand(t *testing.T) {
	rc, out, errOut := runCLI(t, `{"timeout_ms":200,"probes":[{"id":"7","kind":"ipv6-addresses"}]}`, "attest-probe")
	var resp probe.Response
	if rc != 0 || json.Unmarshal([]byte(out), &resp) != nil || len(resp.Results) != 1 || resp.Results[0].ID != "7" {
		t.Fatalf("exit %d, stdout %q, stderr %q", rc, out, errOut)
	}
	if rc, _, _ := runCLI(t, "not json", "attest-probe"); rc != ExitError {
		t.Errorf("bad input: exit %d, want %d", rc, ExitError)
	}
	_, help, _ := runCLI(t, "", "--help")
	if strings.Contains(help, "attest-probe") || !strings.Contains(help, "doctor") {
		t.Errorf("help should list doctor and hide attest-probe:\n%s", help)
	}
}

func TestDoctorUsage(t *testing.T) {
	if rc, _, _ := runCLI(t, "", "doctor"); rc != ExitError {
		t.Errorf("doctor without a slug: exit %d, want %d", rc, ExitError)
	}
}
