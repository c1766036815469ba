package queue

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newQueue(t *testing.T) *Queue {
	t.Helper()
	q := New(filepath.Join(t.TempDir(), "queue"))
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	q.Now = func() time.Time { now = now.Add(time.Second); return now }
	return q
}

func TestSubmitWritesTheContract(t *testing.T) {
	q := newQueue(t)
	p, err := q.Submit(Proposal{BottleSlug: "impl-k3x9q", Tool: ToolEgressAllow, ProposedFile: "routes: []\n",
		Justification: "j", CurrentFileHash: HashFile([]byte("x"))})
	if err != nil {
		t.Fatal(err)
	}
	if !ValidID(p.ID) || p.ArrivalTimestamp.IsZero() {
		t.Fatalf("Submit = %+v", p)
	}
	path := filepath.Join(q.Dir, p.ID+".proposal.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	want := []string{"arrival_timestamp", "bottle_slug", "current_file_hash", "id", "justification", "proposed_file", "tool"}
	if d := cmp.Diff(want, slices.Sorted(slices.Values(keys))); d != "" {
		t.Errorf("keys (-want +got):\n%s", d)
	}
	if ts := raw["arrival_timestamp"].(string); !strings.HasSuffix(ts, "Z") {
		t.Errorf("arrival_timestamp %q is not RFC 3339 UTC", ts)
	}
	got, err := q.Proposal(p.ID)
	if err != nil || !cmp.Equal(got, p) {
		t.Errorf("Proposal = %+v, %v; want %+v", got, err, p)
	}
	// No temp files left behind.
	ents, _ := os.ReadDir(q.Dir)
	if len(ents) != 1 {
		t.Errorf("queue holds %d entries, want 1", len(ents))
	}
}

func TestIDsCannotEscape(t *testing.T) {
	q := newQueue(t)
	for _, id := range []string{"../x", "/etc/passwd", "", "00000000-0000-4000-8000-00000000000G",
		"00000000-0000-4000-8000-000000000000/..", "00000000-0000-4000-8000-000000000000\n", "ABCDEF00-0000-4000-8000-000000000000"} {
		if _, err := q.Submit(Proposal{ID: id}); err == nil && id != "" { // "" asks for a new id
			t.Errorf("Submit(%q) accepted", id)
		}
		if err := q.Respond(id, Response{Status: StatusApproved}); err == nil {
			t.Errorf("Respond(%q) accepted", id)
		}
		if _, err := q.Response(id); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Response(%q) = %v, want an invalid-id error", id, err)
		}
		if err := q.Archive(id); err == nil {
			t.Errorf("Archive(%q) accepted", id)
		}
	}
}

func TestRespondValidates(t *testing.T) {
	q := newQueue(t)
	p, _ := q.Submit(Proposal{Tool: ToolEgressAllow})
	for _, r := range []Response{{}, {Status: "maybe"}, {Status: StatusModified}} {
		if err := q.Respond(p.ID, r); err == nil {
			t.Errorf("Respond(%+v) accepted", r)
		}
	}
	if _, err := q.Response(p.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Response = %v, want ErrNotFound", err)
	}
	// A malformed answer on disk is an error, not "no answer yet".
	os.WriteFile(filepath.Join(q.Dir, p.ID+".response.json"), []byte(`{"status":`), 0o600)
	if _, err := q.Response(p.ID); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Response of a malformed file = %v", err)
	}
	os.WriteFile(filepath.Join(q.Dir, p.ID+".response.json"), []byte(`{"status":"yes"}`), 0o600)
	if _, err := q.Wait(context.Background(), p.ID, time.Millisecond); err == nil {
		t.Errorf("Wait on an invalid answer returned no error")
	}
}

func TestPendingWaitArchive(t *testing.T) {
	q := newQueue(t)
	a, _ := q.Submit(Proposal{Tool: ToolEgressAllow})
	b, _ := q.Submit(Proposal{Tool: ToolCapabilityBlock})
	c, _ := q.Submit(Proposal{Tool: ToolEgressBlock})
	os.WriteFile(filepath.Join(q.Dir, "not-a-proposal.json"), []byte("{}"), 0o600)
	ps, errs := q.Pending()
	if len(errs) != 0 || len(ps) != 3 || ps[0].ID != a.ID || ps[2].ID != c.ID {
		t.Fatalf("Pending = %+v, %v", ps, errs)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		q.Respond(b.ID, Response{Status: StatusModified, Notes: "n", FinalFile: "RUN x\n"})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := q.Wait(ctx, b.ID, 5*time.Millisecond)
	if err != nil || r.Status != StatusModified || !r.Approved() {
		t.Fatalf("Wait = %+v, %v", r, err)
	}
	ps, _ = q.Pending()
	if len(ps) != 2 {
		t.Fatalf("answered proposal still pending: %+v", ps)
	}
	if err := q.Archive(b.ID); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"proposal", "response"} {
		if _, err := os.Stat(filepath.Join(q.Dir, ProcessedDir, b.ID+"."+kind+".json")); err != nil {
			t.Errorf("%s not archived: %v", kind, err)
		}
	}
	// Readers also look in processed/.
	if p, err := q.Proposal(b.ID); err != nil || p.Tool != ToolCapabilityBlock {
		t.Errorf("archived Proposal = %+v, %v", p, err)
	}
	if r, err := q.Response(b.ID); err != nil || r.FinalFile != "RUN x\n" {
		t.Errorf("archived Response = %+v, %v", r, err)
	}
	// Wait gives up with the context.
	short, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	if _, err := q.Wait(short, a.ID, 5*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait without an answer = %v", err)
	}
	// A corrupt proposal is reported, the rest still listed.
	os.WriteFile(filepath.Join(q.Dir, "11111111-1111-4111-8111-111111111111.proposal.json"), []byte("{"), 0o600)
	ps, errs = q.Pending()
	if len(ps) != 2 || len(errs) != 1 {
		t.Errorf("Pending with a corrupt file = %d proposals, %v", len(ps), errs)
	}
}

func TestPendingOfMissingDir(t *testing.T) {
	ps, errs := New(filepath.Join(t.TempDir(), "none")).Pending()
	if ps != nil || errs != nil {
		t.Errorf("Pending = %v, %v", ps, errs)
	}
}

// TestRespondOnce: a second answer to one proposal, racing or late, never
// replaces the first.
func TestRespondOnce(t *testing.T) {
	q := newQueue(t)
	p, _ := q.Submit(Proposal{Tool: ToolEgressAllow})
	if err := q.Respond(p.ID, Response{Status: StatusApproved, Notes: "first"}); err != nil {
		t.Fatal(err)
	}
	err := q.Respond(p.ID, Response{Status: StatusRejected, Notes: "second"})
	if !errors.Is(err, ErrAnswered) {
		t.Fatalf("second Respond = %v, want ErrAnswered", err)
	}
	if r, _ := q.Response(p.ID); r.Notes != "first" {
		t.Fatalf("answer now %+v, want the first", r)
	}
	if err := q.Archive(p.ID); err != nil {
		t.Fatal(err)
	}
	if err := q.Respond(p.ID, Response{Status: StatusRejected}); !errors.Is(err, ErrAnswered) {
		t.Fatalf("Respond after archive = %v, want ErrAnswered", err)
	}
}
