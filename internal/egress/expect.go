package egress

import (
	"net/http"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/policy"
)

// refuseHeadBeforeContinue scans the URL and headers of a request whose
// agent waits for "100 Continue" before sending the body, and refuses it
// when they carry a secret: the body of a refused request is never asked
// for. (The 100 goes out when forward first reads the body, so a request
// the policy refused never gets one either.) Only on routes that block:
// supervise would hold the same request twice and redact rewrites the
// head later, so there the head is judged with the body, as always.
func (s *Server) refuseHeadBeforeContinue(w http.ResponseWriter, r *http.Request, t target, scanner *dlp.Outbound, route *policy.Route) bool {
	if scanner == nil || route.OnMatch != policy.OnMatchBlock || !strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		return false
	}
	res, err := scanner.Scan(dlp.Request{Method: r.Method, URL: r.URL, Header: r.Header})
	if err != nil {
		return false // judged again, body and all, by forward
	}
	found := s.unapproved(res.Findings)
	if len(found) == 0 {
		return false
	}
	s.refuse(w, r, t, policy.Decision{Code: policy.CodeDLP, Reason: "the request contains a secret (" + summarize(found) + "); refused before its body was asked for", Route: route}, found)
	return true
}
