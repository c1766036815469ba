package supervise

import (
	"encoding/base32"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/supervise/agentcheck"
)

const heldGitHubToken = "ghs_held0token0value0for0the0route0xyz1"

func labels(s string, n int) string {
	var out []string
	for len(s) > n {
		out, s = append(out, s[:n]), s[n:]
	}
	return strings.Join(append(out, s), ".")
}

// TestRedTeamProposalHostCarriesSecret: a proposed route whose host name
// spells the route's held token (hex, chunked into labels) or a token
// pattern is refused and nothing is filed; before, it went to the
// operator, and an approval would have sent it in every DNS query.
func TestRedTeamProposalHostCarriesSecret(t *testing.T) {
	f := start(t, func(c *Config) {
		c.Wait = 50 * time.Millisecond // a regression files and answers pending, fast
		c.Getenv = func(k string) string {
			if k == "GITHUB_TOKEN" {
				return heldGitHubToken
			}
			return ""
		}
	})
	cs := f.connect(t, clientOpts{})
	tokHex := hex.EncodeToString([]byte(heldGitHubToken))
	evil := labels(tokHex, 40) + ".attacker.example"
	for name, args := range map[string]map[string]any{
		"allow held token": {"routes": "- host: " + evil + "\n", "justification": "j"},
		"allow pattern":    {"routes": "- host: akiaz3mhqw5ykb2xj4nt.attacker.example\n", "justification": "j"},
		"block url host":   {"method": "GET", "url": "https://" + evil + "/", "reason": "no-route", "routes": "- host: " + evil + "\n", "justification": "j"},
	} {
		tool := "egress-allow"
		if strings.HasPrefix(name, "block") {
			tool = "egress-block"
		}
		res := call(t, cs, tool, args)
		text := resultText(res)
		if !res.IsError || !strings.Contains(text, "carries a secret") {
			t.Errorf("%s: %v %q", name, res.IsError, text)
		}
		if strings.Contains(text, heldGitHubToken) || strings.Contains(text, tokHex[:40]) {
			t.Errorf("%s: the refusal repeats the token", name)
		}
	}
	if ps, _ := f.queue.Pending(); len(ps) != 0 {
		t.Errorf("%d proposals filed", len(ps))
	}
}

// TestProposalEncodedHostIsFiledWithWarning: a host that only looks
// encoded reaches the operator, and the operator's side (not the agent's
// text) says so.
func TestProposalEncodedHostIsFiledWithWarning(t *testing.T) {
	f := start(t, func(c *Config) { c.Wait = 50 * time.Millisecond })
	cs := f.connect(t, clientOpts{})
	data := base32.StdEncoding.EncodeToString([]byte("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin"))
	host := labels(strings.ToLower(strings.TrimRight(data, "=")), 40) + ".attacker.example"
	res := call(t, cs, "egress-allow", map[string]any{"routes": "- host: " + host + "\n", "justification": "j"})
	if res.IsError {
		t.Fatalf("refused: %s", resultText(res))
	}
	ps, _ := f.queue.Pending()
	if len(ps) != 1 {
		t.Fatalf("%d proposals filed", len(ps))
	}
	if w := agentcheck.HostWarnings(ps[0].ProposedFile); len(w) == 0 {
		t.Errorf("no warning for %s", host)
	}
	if w := agentcheck.HostWarnings("routes:\n  - host: objects.githubusercontent.com\n"); len(w) != 0 {
		t.Errorf("warning for an ordinary host: %q", w)
	}
}
