package egress

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestExpectContinueAnsweredAfterPolicyAndDLP: an agent that waits for
// 100 Continue gets it only once the policy allowed the request and its
// URL and headers are clean; a refused one gets the 403 without a 100, and
// its body is never asked for.
func TestExpectContinueAnsweredAfterPolicyAndDLP(t *testing.T) {
	up := newUpstream(t, true)
	p := startProxy(t, up, redTeamPolicy, nil)
	runTunnelCases(t, p, up, []redTeamCase{
		// No body follows: a proxy that answered 100 would wait for it.
		{"path outside matches", "POST /admin HTTP/1.1\r\nHost: HOST\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", []string{"403 no-match"}, 0},
		{"secret in a header", "POST /v1/x HTTP/1.1\r\nHost: HOST\r\nExpect: 100-continue\r\nX-Note: " + heldToken + "\r\nContent-Length: 5\r\n\r\n", []string{"403 dlp"}, 0},
		{"secret in the query", "POST /v1/x?k=" + heldToken + " HTTP/1.1\r\nHost: HOST\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", []string{"403 dlp"}, 0},
		// Clean: 100, then the body, scanned, then the answer.
		{"clean", "POST /v1/x HTTP/1.1\r\nHost: HOST\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", []string{"100 -", "200 -"}, 1},
		{"secret in the body", "POST /v1/x HTTP/1.1\r\nHost: HOST\r\nExpect: 100-continue\r\nContent-Length: " + strconv.Itoa(len(heldToken)) + "\r\n\r\n" + heldToken, []string{"100 -", "403 dlp"}, 0},
	})
	if strings.Contains(p.logText(), heldToken) {
		t.Error("the log holds the secret")
	}
}

// TestRequestBodyStreamsWhenDLPOff: on a route whose outbound DLP is off
// the body is not buffered: the upstream reads the first part while the
// agent still holds the rest.
func TestRequestBodyStreamsWhenDLPOff(t *testing.T) {
	first := make(chan struct{})
	up := &upstream{seen: &seen{}}
	got := make(chan string, 1)
	up.start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return
		}
		close(first)
		rest, _ := io.ReadAll(r.Body)
		got <- string(b) + string(rest)
	}), true)
	p := startProxy(t, up, "egress:\n  routes:\n    - host: up.example.com\n      dlp: {outbound_detectors: false}\n", nil)
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("part1"))
		select {
		case <-first:
			pw.Write([]byte("part2"))
			pw.Close()
		case <-time.After(20 * time.Second): // a bound, not a measurement
			pw.CloseWithError(io.ErrUnexpectedEOF)
		}
	}()
	st, code, _, err := do(t, p.client(t), newReq(t, "POST", "https://up.example.com:"+up.port+"/upload", pr))
	if err != nil || st != 200 {
		t.Fatalf("status %d %q, %v: the upstream never saw the first part while the agent held the rest (buffered)", st, code, err)
	}
	if b := <-got; b != "part1part2" {
		t.Errorf("upstream got %q", b)
	}
}
