// Package queue reads and writes the supervise queue: proposals raised in a
// bottle and the operator's responses, as files in one directory
// (DESIGN.md, Supervision). Every write is atomic (temp file + rename) and
// 0600; ids are validated so no path can leave the directory.
package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bot-bottle/bot-bottle/internal/atomicfile"
)

// Tools that may raise a proposal.
const (
	ToolEgressAllow      = "egress-allow"
	ToolEgressBlock      = "egress-block"
	ToolCapabilityBlock  = "capability-block"
	ToolGitleaksAllow    = "gitleaks-allow"     // raised by git-gate only
	ToolEgressTokenAllow = "egress-token-allow" // raised by egress only
)

// Response statuses.
const (
	StatusApproved = "approved"
	StatusModified = "modified"
	StatusRejected = "rejected"
)

// ProcessedDir is the sub-directory answered pairs are archived into.
const ProcessedDir = "processed"

// ErrAnswered reports a proposal that already has a response.
var ErrAnswered = errors.New("already answered")

// ErrNotFound reports a proposal or response that is not in the queue.
var ErrNotFound = errors.New("not found")

// Proposal is <id>.proposal.json.
type Proposal struct {
	ID               string    `json:"id"`
	BottleSlug       string    `json:"bottle_slug"`
	Tool             string    `json:"tool"`
	ProposedFile     string    `json:"proposed_file"`
	Justification    string    `json:"justification"`
	ArrivalTimestamp time.Time `json:"arrival_timestamp"`
	CurrentFileHash  string    `json:"current_file_hash"`
}

// Response is <id>.response.json.
type Response struct {
	Status    string `json:"status"`
	Notes     string `json:"notes"`
	FinalFile string `json:"final_file,omitempty"`
}

// Approved reports whether the response lets the proposal go on.
func (r Response) Approved() bool {
	return r.Status == StatusApproved || r.Status == StatusModified
}

// Validate checks a response read from disk.
func (r Response) Validate() error {
	switch r.Status {
	case StatusApproved, StatusRejected:
		return nil
	case StatusModified:
		if r.FinalFile == "" {
			return errors.New("modified response has no final_file")
		}
		return nil
	case "":
		return errors.New("response has no status")
	}
	return fmt.Errorf("response has unknown status %q", r.Status)
}

// Queue is one bottle's queue directory.
type Queue struct {
	Dir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns the queue in dir.
func New(dir string) *Queue { return &Queue{Dir: dir} }

var idPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ValidID reports whether id is a lower-case UUID, the only form of id
// that may name a file in the queue.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// HashFile is the SHA-256 hex digest used for current_file_hash.
func HashFile(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (q *Queue) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

func (q *Queue) path(id, kind string) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("invalid proposal id %q", id)
	}
	return filepath.Join(q.Dir, id+"."+kind+".json"), nil
}

// Submit fills in ID and ArrivalTimestamp when empty and writes the
// proposal. It returns the stored proposal.
func (q *Queue) Submit(p Proposal) (Proposal, error) {
	if p.ID == "" {
		p.ID = uuid.NewString()
	}
	if p.ArrivalTimestamp.IsZero() {
		p.ArrivalTimestamp = q.now().UTC().Truncate(time.Second)
	}
	path, err := q.path(p.ID, "proposal")
	if err != nil {
		return p, err
	}
	if err := writeJSON(path, p); err != nil {
		return p, fmt.Errorf("writing proposal %s: %w", p.ID, err)
	}
	return p, nil
}

// Respond writes the answer to proposal id.
func (q *Queue) Respond(id string, r Response) error {
	if err := r.Validate(); err != nil {
		return err
	}
	path, err := q.path(id, "response")
	if err != nil {
		return err
	}
	if _, err := q.Response(id); err == nil {
		return fmt.Errorf("writing response %s: %w", id, ErrAnswered)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	// WriteNew: two answers racing for one proposal cannot both land.
	if err := atomicfile.WriteNew(path, append(b, '\n'), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			err = ErrAnswered
		}
		return fmt.Errorf("writing response %s: %w", id, err)
	}
	return nil
}

// Proposal reads proposal id from the queue or from processed/.
func (q *Queue) Proposal(id string) (Proposal, error) {
	var p Proposal
	err := q.readEither(id, "proposal", &p)
	return p, err
}

// Response reads the answer to id from the queue or from processed/. It
// returns ErrNotFound while there is none, and an error for an answer that
// does not parse or validate.
func (q *Queue) Response(id string) (Response, error) {
	var r Response
	if err := q.readEither(id, "response", &r); err != nil {
		return r, err
	}
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("reading response %s: %w", id, err)
	}
	return r, nil
}

func (q *Queue) readEither(id, kind string, v any) error {
	path, err := q.path(id, kind)
	if err != nil {
		return err
	}
	for _, p := range []string{path, filepath.Join(q.Dir, ProcessedDir, filepath.Base(path))} {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s %s: %w", kind, id, err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("reading %s %s: malformed json: %w", kind, id, err)
		}
		return nil
	}
	return fmt.Errorf("%s %s: %w", kind, id, ErrNotFound)
}

// Wait polls for the answer to id until one arrives, ctx ends or timeout
// passes. A malformed answer is returned as an error at once.
func (q *Queue) Wait(ctx context.Context, id string, poll time.Duration) (Response, error) {
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		r, err := q.Response(id)
		if !errors.Is(err, ErrNotFound) {
			return r, err
		}
		select {
		case <-ctx.Done():
			return Response{}, ctx.Err()
		case <-t.C:
		}
	}
}

// Archive moves the proposal and its response into processed/. Only the side
// that raised the proposal calls it, after reading the answer.
func (q *Queue) Archive(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("invalid proposal id %q", id)
	}
	dst := filepath.Join(q.Dir, ProcessedDir)
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("archiving %s: %w", id, err)
	}
	for _, kind := range []string{"proposal", "response"} {
		name := id + "." + kind + ".json"
		err := os.Rename(filepath.Join(q.Dir, name), filepath.Join(dst, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("archiving %s: %w", id, err)
		}
	}
	return nil
}

// Pending lists proposals in the queue that have no response yet, oldest
// first. Files that do not parse are skipped and reported in the error list.
func (q *Queue) Pending() ([]Proposal, []error) {
	entries, err := os.ReadDir(q.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{fmt.Errorf("listing queue %s: %w", q.Dir, err)}
	}
	var out []Proposal
	var errs []error
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".proposal.json")
		if !ok || !ValidID(id) {
			continue
		}
		if _, err := os.Stat(filepath.Join(q.Dir, id+".response.json")); err == nil {
			continue
		}
		p, err := q.Proposal(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].ArrivalTimestamp.Before(out[j].ArrivalTimestamp)
	})
	return out, errs
}

// writeJSON writes v to path atomically with mode 0600.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}
