package egress

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckExplainsHostNameFindings: `egress check` decides a host name
// as the proxy does before resolving it, and says which label carried
// what, without the value.
func TestCheckExplainsHostNameFindings(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	src := "egress:\n  routes:\n    - host: \"*.example.com\"\n    - host: api.example.com\n      auth: {scheme: Bearer, token_ref: UP_TOKEN}\n"
	if err := os.WriteFile(pol, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string { return map[string]string{"UP_TOKEN": heldToken}[k] }
	for _, c := range []struct{ host, code, where string }{
		{heldToken + ".example.com", "dlp", "host"},
		{hex.EncodeToString([]byte(heldToken[:18])) + "." + hex.EncodeToString([]byte(heldToken[18:])) + ".example.com", "dlp", "host labels 1-2"},
		{strings.Repeat("q7x9k2m4v8", 5) + ".example.com", "host-name", "host label 1"},
	} {
		u, _ := url.Parse("https://" + c.host + "/x")
		res, err := Check(pol, nil, env, "GET", u, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := fmt.Sprintf("%+v", res)
		if res.Allow || string(res.Code) != c.code || len(res.Findings) == 0 || !strings.Contains(out, c.where) {
			t.Errorf("%s: %s, want refused %s with a finding at %s", c.host, out, c.code, c.where)
		}
		for _, f := range res.Findings {
			if f.Place != "" && !strings.HasPrefix(f.Place, "host") {
				t.Errorf("%s: a host finding placed at %q", c.host, f.Place)
			}
		}
		if strings.Contains(out, heldToken[:16]) || strings.Contains(out, c.host[:40]) {
			t.Errorf("check repeats the value: %s", out)
		}
	}
}
