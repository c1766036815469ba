package queue

import (
	"regexp"
	"strings"
)

// An egress-block proposal's justification begins with lines the sidecar
// writes, never the agent: ProvenMark when the proxy's log holds the
// refusal the agent cited, UnprovenMark otherwise. The agent's own text
// follows AgentWords.
//
// OperatorMark begins the justification of a route the operator drafted
// from the inspector (the host files it; the sidecar writes every agent
// justification under AgentWords, so an agent cannot begin one with it).
const (
	ProvenMark   = "Proxy's record"
	UnprovenMark = "Not seen by the proxy — the agent's claim"
	AgentWords   = "The agent's words:"
	OperatorMark = "Operator's draft"
)

// Unproven reports an egress-block proposal whose refused request the
// proxy never recorded (or that cites none). Anything that does not begin
// with the sidecar's proven line counts as unproven: fail closed.
func Unproven(p Proposal) bool {
	return p.Tool == ToolEgressBlock && !strings.HasPrefix(p.Justification, ProvenMark)
}

var provenIDRE = regexp.MustCompile(`^` + regexp.QuoteMeta(ProvenMark) + ` \(refusal (rf-[0-9a-f]{16})\)`)

var draftIDRE = regexp.MustCompile(`^` + regexp.QuoteMeta(OperatorMark) + ` \(from refusal (rf-[0-9a-f]{16})\)`)

// RefusalID is the proxy refusal a proven egress-block cites, or the one
// the operator drafted an egress-allow from; "" for any other proposal.
func RefusalID(p Proposal) string {
	re := provenIDRE
	switch p.Tool {
	case ToolEgressBlock:
	case ToolEgressAllow:
		re = draftIDRE
	default:
		return ""
	}
	if m := re.FindStringSubmatch(p.Justification); m != nil {
		return m[1]
	}
	return ""
}

var provenReqRE = regexp.MustCompile(`^` + regexp.QuoteMeta(ProvenMark) + ` \(refusal rf-[0-9a-f]{16}\): ([A-Z]+) (\S+) refused at`)

// ProvenRequest is the method and URL of the refused request a proven
// egress-block cites, as the proxy recorded them; ok is false otherwise.
func ProvenRequest(p Proposal) (method, url string, ok bool) {
	if p.Tool != ToolEgressBlock {
		return "", "", false
	}
	m := provenReqRE.FindStringSubmatch(p.Justification)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}
