package gitgate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/gitgate/scan"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// AllowPayload is the proposed_file of a gitleaks-allow proposal.
type AllowPayload struct {
	Repo string `json:"repo"`
	// Ref is the first ref of the push; Refs lists them all.
	Ref      string         `json:"ref"`
	Refs     []string       `json:"refs"`
	Findings []scan.Finding `json:"findings"`
}

const allowJustification = "git-gate holds a push to repo %s: %d finding(s) are hidden only by " +
	"`# gitleaks:allow` comments. Approve only test fixtures or confirmed false positives, " +
	"and say why in the notes; reject anything that may be a real credential."

// askSupervisor raises one gitleaks-allow proposal and waits for the
// answer. It returns nil only for an approval.
func (h Hook) askSupervisor(ctx context.Context, updates []update, fs []scan.Finding, timeout time.Duration) error {
	if h.QueueDir == "" {
		return errors.New("no supervisor queue configured (" + EnvQueueDir + ") for # gitleaks:allow")
	}
	p := AllowPayload{Repo: h.Repo, Findings: fs}
	for _, u := range updates {
		p.Refs = append(p.Refs, u.ref)
	}
	p.Ref = p.Refs[0]
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding gitleaks-allow proposal: %w", err)
	}
	q := queue.New(h.QueueDir)
	prop, err := q.Submit(queue.Proposal{
		BottleSlug:      h.Slug,
		Tool:            queue.ToolGitleaksAllow,
		ProposedFile:    string(b),
		Justification:   fmt.Sprintf(allowJustification, h.Repo, len(fs)),
		CurrentFileHash: queue.HashFile(b),
	})
	if err != nil {
		return fmt.Errorf("raising gitleaks-allow proposal: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := q.Wait(wctx, prop.ID, h.Poll)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// Nobody waits any more: take the proposal off the operator's list.
		_ = q.Archive(prop.ID)
		return fmt.Errorf("supervisor approval timed out for # gitleaks:allow after %s (proposal %s)", timeout, prop.ID)
	case ctx.Err() != nil:
		_ = q.Archive(prop.ID)
		return fmt.Errorf("push abandoned while waiting for the supervisor (proposal %s)", prop.ID)
	case err != nil:
		_ = q.Archive(prop.ID)
		return fmt.Errorf("supervisor answer for # gitleaks:allow is malformed (proposal %s): %v", prop.ID, err)
	}
	if err := q.Archive(prop.ID); err != nil {
		return fmt.Errorf("archiving proposal %s: %w", prop.ID, err)
	}
	if !resp.Approved() {
		return fmt.Errorf("supervisor rejected # gitleaks:allow (proposal %s)%s", prop.ID, notes(resp.Notes))
	}
	if strings.TrimSpace(resp.Notes) == "" {
		return fmt.Errorf("supervisor answer for # gitleaks:allow is malformed (proposal %s): approval without a reason", prop.ID)
	}
	return nil
}

func notes(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return ""
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return ": " + s
}
