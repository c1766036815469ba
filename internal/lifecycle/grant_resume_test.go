package lifecycle

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/ca"
	"github.com/bot-bottle/bot-bottle/internal/manifest"
)

// A new run honours what is left of each approval: a uses grant starts
// from the uses the proxy logged, a ttl grant keeps its expiry, and
// session and spent grants are not carried.
func TestNewRunHonoursWhatIsLeftOfGrants(t *testing.T) {
	p := testPlan(t)
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	approved := "egress:\n  routes:\n" +
		"    - host: uses.test\n      grant: {id: g-uses0001, uses: 3}\n" +
		"    - host: ttl.test\n      grant: {id: g-ttl00001, expires: \"" + later + "\"}\n" +
		"    - host: session.test\n      grant: {id: g-sess0001, session: true}\n" +
		"    - host: spent.test\n      grant: {id: g-spent001, uses: 1}\n" +
		"    - host: expired.test\n      grant: {id: g-exp00001, expires: \"2020-01-01T00:00:00Z\"}\n"
	logs := `{"decision":"allow","reason":"route uses.test allows GET /a under grant g-uses0001"}
{"decision":"allow","reason":"route uses.test allows GET /b under grant g-uses0001"}
{"decision":"allow","reason":"route spent.test allows GET / under grant g-spent001"}
`
	for name, text := range map[string]string{"egress/approved.yaml": approved, "logs/egress.jsonl": logs} {
		path := filepath.Join(p.StateDir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	err := Prepare(p, func(dir string) ([]byte, error) {
		cert, _, err := ca.Generate("bot-bottle test", time.Now())
		if err != nil {
			return nil, err
		}
		return cert, os.WriteFile(filepath.Join(dir, "ca-key.pem"), []byte("key"), 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	live, err := manifest.LoadEgressFile(filepath.Join(p.StateDir, "egress", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*manifest.Grant{}
	for _, r := range live.Routes {
		got[r.Host] = r.Grant
	}
	if g := got["uses.test"]; g == nil || g.Uses != 3 || g.Used != 2 {
		t.Errorf("uses grant: %+v, want 2 of 3 used", g)
	}
	if g := got["ttl.test"]; g == nil || g.Expires != later {
		t.Errorf("ttl grant: %+v", g)
	}
	for _, h := range []string{"session.test", "spent.test", "expired.test"} {
		if _, ok := got[h]; ok {
			t.Errorf("%s was carried into the new run", h)
		}
	}
}
