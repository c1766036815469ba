package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
)

// notifyTimeout bounds one run of the --notify command.
const notifyTimeout = 10 * time.Second

// notifyJSON is what the --notify command reads on stdin: one proposal's
// summary, no proposed file and no secret (holds carry redacted findings).
type notifyJSON struct {
	ID               string    `json:"id"`
	Bottle           string    `json:"bottle"`
	Label            string    `json:"label,omitempty"`
	Tool             string    `json:"tool"`
	ArrivalTimestamp time.Time `json:"arrival_timestamp"`
	Summary          string    `json:"summary"`
	Provenance       string    `json:"provenance,omitempty"`
	Command          string    `json:"command"`
}

// notifier runs a command once for each proposal it has not seen yet.
type notifier struct {
	command string
	mu      sync.Mutex
	seen    map[string]bool
}

func newNotifier(command string) *notifier {
	if strings.TrimSpace(command) == "" {
		return nil
	}
	return &notifier{command: command, seen: map[string]bool{}}
}

// notify runs the command for each new item; failures are returned so the
// UI shows them, and a failed proposal is not tried again.
func (n *notifier) notify(items []apply.Item) []error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for _, it := range items {
		if n.seen[it.Proposal.ID] {
			continue
		}
		n.seen[it.Proposal.ID] = true
		if err := n.run(it); err != nil {
			errs = append(errs, fmt.Errorf("--notify for %s: %w", it.Proposal.ID, err))
		}
	}
	return errs
}

func (n *notifier) run(it apply.Item) error {
	p := it.Proposal
	b, err := json.Marshal(notifyJSON{
		ID: p.ID, Bottle: it.Slug, Label: it.Label, Tool: p.Tool, ArrivalTimestamp: p.ArrivalTimestamp,
		Summary: it.Summary, Provenance: provenance(p), Command: "bot-bottle supervise",
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", n.command)
	cmd.Stdin = bytes.NewReader(append(b, '\n'))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
