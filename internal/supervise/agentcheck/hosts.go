package agentcheck

import (
	"fmt"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
)

// HostWarnings are what the operator must see about the host names of a
// proposed routes file: a name that looks like it carries data (encoded
// labels, a deep chain). Approving it would let the agent send that data
// in every DNS query and TLS handshake for the name. It needs no secret,
// so the operator's side computes it itself instead of trusting the
// agent's text.
func HostWarnings(file string) []string {
	routes, err := ParseRoutes(file)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range routes {
		for _, f := range dlp.HostLooksEncoded(r.Host) {
			out = append(out, fmt.Sprintf("host %s looks like it carries data: %s in %s (%s)", r.Host, f.Rule, f.Where, f.Redacted))
		}
	}
	return out
}
