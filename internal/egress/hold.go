package egress

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/internal/dlp"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// heldRequest is the proposed_file of an egress-token-allow proposal: what
// was held and why, never the secret itself.
type heldRequest struct {
	Request  heldLine     `yaml:"request"`
	Findings []findingLog `yaml:"findings"`
	Approve  string       `yaml:"approve"`
}

type heldLine struct {
	Method string `yaml:"method"`
	URL    string `yaml:"url"`
}

// holdCall is one hold in progress; requests with the same findings to the
// same host wait on it instead of raising another proposal.
type holdCall struct {
	done    chan struct{}
	waiters int // guarded by Server.holdMu
	ok      bool
	why     string
}

// holdOnce holds the request for an operator's answer, sharing one
// proposal among identical requests. The hold outlives a client that goes
// away, so an approval still counts for its retry.
func (s *Server) holdOnce(ctx context.Context, st *state, r *http.Request, t target, findings []dlp.Finding) (bool, string) {
	keys := make([]string, 0, len(findings)+1)
	shared := true
	for _, f := range findings {
		k, ok := findingKey(f)
		shared = shared && ok
		keys = append(keys, k)
	}
	slices.Sort(keys)
	key := t.host + "\x01" + strings.Join(keys, "\x01")
	s.holdMu.Lock()
	c, waiting := s.holds[key]
	if !shared {
		// No fingerprint to tell values apart: this request gets its own
		// proposal, never another's answer.
		c, waiting = &holdCall{done: make(chan struct{})}, false
		key = ""
	} else if !waiting {
		c = &holdCall{done: make(chan struct{})}
		s.holds[key] = c
	}
	c.waiters++
	s.holdMu.Unlock()
	if !waiting {
		method, path := r.Method, r.URL.Path
		go func() {
			c.ok, c.why = s.hold(context.WithoutCancel(ctx), st, method, path, t, findings)
			if c.ok {
				s.approve(findings)
			}
			if key != "" {
				s.holdMu.Lock()
				delete(s.holds, key)
				s.holdMu.Unlock()
			}
			close(c.done)
		}()
	}
	select {
	case <-c.done:
		return c.ok, c.why
	case <-ctx.Done():
		return false, "the client went away"
	}
}

// hold raises an egress-token-allow proposal and waits for the operator.
// Only an approval lets the request go; a rejection, a timeout, a
// malformed answer or a missing queue refuse it.
func (s *Server) hold(ctx context.Context, st *state, method, path string, t target, findings []dlp.Finding) (bool, string) {
	if s.cfg.QueueDir == "" {
		return false, "no supervise queue is configured, so nobody can approve it"
	}
	for _, f := range findings {
		if f.Where == "path" || f.Where == "method" {
			path = "/…"
		}
	}
	doc := heldRequest{
		Request:  heldLine{Method: method, URL: t.scheme + "://" + t.urlHost() + path},
		Findings: findingsLog(findings),
		Approve:  "forwards this request and lets these values through for the rest of this proxy's life",
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return false, "writing the proposal: " + err.Error()
	}
	q := queue.New(s.cfg.QueueDir)
	p, err := q.Submit(queue.Proposal{
		BottleSlug:      s.cfg.BottleSlug,
		Tool:            queue.ToolEgressTokenAllow,
		ProposedFile:    string(b),
		Justification:   fmt.Sprintf("egress held %s %s: %s", method, t.host, summarize(findings)),
		CurrentFileHash: st.hash,
	})
	if err != nil {
		return false, "raising the proposal: " + err.Error()
	}
	s.log.Warn("egress request held for egress-token-allow", "proposal", p.ID, "host", t.host, "findings", findingsLog(findings))
	wctx, cancel := context.WithTimeout(ctx, s.cfg.TokenAllowTimeout)
	defer cancel()
	resp, err := q.Wait(wctx, p.ID, 200*time.Millisecond)
	// The raiser archives what it has read; a proposal nobody answered is
	// archived too, so the operator is not shown a hold nobody waits on.
	defer q.Archive(p.ID)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return false, fmt.Sprintf("no answer to proposal %s within %s", p.ID, s.cfg.TokenAllowTimeout)
	case err != nil:
		return false, fmt.Sprintf("answer to proposal %s is malformed: %v", p.ID, err)
	case resp.Status == queue.StatusApproved:
		return true, fmt.Sprintf("approved by the operator (proposal %s)", p.ID)
	case resp.Status == queue.StatusModified:
		return false, fmt.Sprintf("proposal %s was modified; egress-token-allow is approve or reject only", p.ID)
	}
	return false, fmt.Sprintf("rejected by the operator (proposal %s): %s", p.ID, resp.Notes)
}

// findingKey identifies an approved value: its fingerprint (an HMAC the
// dlp package keys per process), never the value itself nor its redacted
// excerpt, which two different tokens of one rule in one place share. A
// finding without a fingerprint has no key (ok false): it is never
// remembered as approved and never shares another request's hold.
func findingKey(f dlp.Finding) (string, bool) {
	if f.Fingerprint == "" {
		return "", false
	}
	return f.Detector + "\x00" + f.Fingerprint, true
}

func (s *Server) approve(fs []dlp.Finding) {
	for _, f := range fs {
		if k, ok := findingKey(f); ok {
			s.approved.Store(k, true)
		}
	}
}

func (s *Server) unapproved(fs []dlp.Finding) []dlp.Finding {
	var out []dlp.Finding
	for _, f := range fs {
		k, ok := findingKey(f)
		if !ok {
			out = append(out, f)
			continue
		}
		if _, approved := s.approved.Load(k); !approved {
			out = append(out, f)
		}
	}
	return out
}
