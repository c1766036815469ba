package egress

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// CheckResult is what the proxy would do with one request, short of
// resolving and dialing it.
type CheckResult struct {
	Allow    bool         `json:"allow"`
	Code     policy.Code  `json:"code"`
	Reason   string       `json:"reason"`
	Route    string       `json:"route,omitempty"`
	Findings []findingLog `json:"findings,omitempty"`
	Warnings []findingLog `json:"warnings,omitempty"`
}

// Check decides one request against the policy file as the proxy would:
// the policy, then outbound DLP with the tokens getenv holds (an unset
// token is simply not scanned for). Name resolution and the private-range
// check happen only in the proxy.
func Check(policyPath string, extraPorts []int, getenv func(string) string, method string, u *url.URL, h http.Header, body []byte) (CheckResult, error) {
	pol, err := policy.LoadFile(policyPath)
	if err != nil {
		return CheckResult{}, err
	}
	pol.ExtraPorts = extraPorts
	st, err := buildState(pol, getenv, nil, false)
	if err != nil {
		return CheckResult{}, err
	}
	if h == nil {
		h = http.Header{}
	}
	if u.User != nil {
		return CheckResult{Code: policy.CodeBadRequest, Reason: "credentials in the URL are refused"}, nil
	}
	t, err := targetOf(u.Scheme, u.Host)
	if err != nil {
		return CheckResult{Code: policy.CodeBadRequest, Reason: err.Error()}, nil
	}
	// The host name is checked first, as the proxy does before resolving.
	if hd, found, _, ok := hostVerdict(st, u.Host, t); !ok {
		return CheckResult{Code: hd.Code, Reason: hd.Reason, Findings: findingsLog(found)}, nil
	}
	preq := policy.Request{Method: method, Scheme: t.scheme, Host: t.host, Port: t.port, Path: u.Path, Query: u.RawQuery, Header: h}
	d := pol.Decide(preq)
	preq.Body = body
	d = policy.DecideBody(d, preq) // as the proxy does once the body is read
	res := CheckResult{Allow: d.Allow, Code: d.Code, Reason: d.Reason}
	if d.Route != nil {
		res.Route = d.Route.Name()
	}
	o := st.scanners[d.Route]
	if !d.Allow || o == nil {
		return res, nil
	}
	if len(body) > MaxScanBody {
		return CheckResult{Code: policy.CodeDLPUnscanable, Reason: fmt.Sprintf("request body is larger than %d MiB, the most that can be scanned", MaxScanBody>>20), Route: res.Route}, nil
	}
	scan, err := o.Scan(dlp.Request{Method: method, URL: u, Header: h, Body: body})
	if err != nil {
		return CheckResult{Code: policy.CodeDLPUnscanable, Reason: "the request cannot be scanned: " + err.Error(), Route: res.Route}, nil
	}
	res.Findings, res.Warnings = findingsLog(scan.Findings), findingsLog(scan.Warnings)
	if len(scan.Findings) == 0 {
		return res, nil
	}
	switch d.Route.OnMatch {
	case policy.OnMatchRedact:
		res.Reason += "; the secret would be redacted (" + summarize(scan.Findings) + ")"
	case policy.OnMatchSupervise:
		res.Allow, res.Code = false, policy.CodeDLP
		res.Reason = "the request contains a secret (" + summarize(scan.Findings) + "); it would be held for an egress-token-allow answer"
	default:
		res.Allow, res.Code = false, policy.CodeDLP
		res.Reason = "the request contains a secret (" + summarize(scan.Findings) + ")"
	}
	return res, nil
}
