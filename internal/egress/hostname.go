package egress

import (
	"net"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// checkHost looks at the host the agent asked for (as it spelled it)
// before anything resolves it: resolving a name is a DNS query that
// leaves, with the name in it. A held secret or token pattern in the name
// is refused; so is a name that looks encoded, unless a route names it
// exactly. ok is false with the refusal; t comes back with the host
// redacted when the name carries a secret, so no log line repeats it.
func (s *Server) checkHost(st *state, rawHost string, t target) (policy.Decision, target, bool) {
	d, _, t, ok := hostVerdict(st, rawHost, t)
	return d, t, ok
}

// hostVerdict is checkHost's decision with the findings behind it, which
// `egress check` prints ("host label 1").
func hostVerdict(st *state, rawHost string, t target) (policy.Decision, []dlp.Finding, target, bool) {
	if h, _, err := net.SplitHostPort(rawHost); err == nil {
		rawHost = h
	}
	if net.ParseIP(strings.Trim(rawHost, "[]")) != nil {
		return policy.Decision{}, nil, t, true
	}
	v, err := st.hosts.Check(rawHost)
	switch {
	case err != nil:
		return policy.Decision{Code: policy.CodeDLPUnscanable, Reason: "the host name cannot be scanned: " + err.Error()}, nil, redactHost(t), false
	case len(v.Secrets) > 0:
		return policy.Decision{Code: policy.CodeDLP, Reason: "the host name carries a secret (" + summarize(v.Secrets) + ")"}, v.Secrets, redactHost(t), false
	case len(v.Encoded) > 0 && !st.pol.NamesExactly(t.host):
		return policy.Decision{Code: policy.CodeHostName, Reason: "the host name looks like it carries data (" + hostShape(v.Encoded) + "); no route names it, so it is not resolved"}, v.Encoded, t, false
	}
	return policy.Decision{}, nil, t, true
}

// redactHost keeps the last two labels: enough to say where, not what.
func redactHost(t target) target {
	labels := strings.Split(t.host, ".")
	t.host = "(redacted)"
	if len(labels) > 2 {
		t.host += "." + strings.Join(labels[len(labels)-2:], ".")
	}
	return t
}

func hostShape(fs []dlp.Finding) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Rule + " in " + f.Where + ": " + f.Redacted
	}
	return strings.Join(parts, "; ")
}
