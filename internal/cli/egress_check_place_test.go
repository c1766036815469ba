package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEgressCheckPlaceAndDecoded: a refusal names where the secret sat and
// which encodings were undone to see it, and prints neither the value nor
// its encoded form.
func TestEgressCheckPlaceAndDecoded(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte(egressTestPolicy), 0o600)
	token := "held-token-value-0123456789abcdef"
	enc := hex.EncodeToString([]byte(base64.StdEncoding.EncodeToString([]byte(token))))
	var out bytes.Buffer
	code := Run(context.Background(), []string{"egress", "check", "--policy", pol, "https://api.example.com/v1/x?note=" + enc},
		egressEnv(dir, &out, map[string]string{"API_TOKEN": token}))
	got := out.String()
	t.Log(got)
	for _, want := range []string{"refuse (dlp)", "finding: known_secrets API_TOKEN at query note", ", decoded hex: ***"} {
		if code != ExitFound || !strings.Contains(got, want) {
			t.Errorf("exit %d, output %q; want %q", code, got, want)
		}
	}
	if strings.Contains(got, "held-token-value") || strings.Contains(got, enc) {
		t.Errorf("check printed the secret: %q", got)
	}
}
