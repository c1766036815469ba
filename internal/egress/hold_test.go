package egress

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

const supervisePolicy = `egress:
  routes:
    - host: up.example.com
      auth: {scheme: Bearer, token_ref: UP_TOKEN}
`

const leak = "leak real-upstream-token-0123456789abcdef please"

// operator answers the next proposal with answer (nil: never answers), and
// returns the proposal it saw.
func operator(t *testing.T, dir string, answer func(q *queue.Queue, id string)) <-chan queue.Proposal {
	t.Helper()
	out := make(chan queue.Proposal, 1)
	go func() {
		q := queue.New(dir)
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
			ps, _ := q.Pending()
			if len(ps) > 0 {
				if answer != nil {
					answer(q, ps[0].ID)
				}
				out <- ps[0]
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(out)
	}()
	return out
}

func TestSuperviseHold(t *testing.T) {
	up := newUpstream(t, true)
	post := func(t *testing.T, p *proxy) (int, string, string) {
		st, code, body, err := do(t, p.client(t), newReq(t, "POST", "https://up.example.com:"+up.port+"/v1/x", strings.NewReader(leak)))
		if err != nil {
			t.Fatal(err)
		}
		return st, code, body
	}
	withQueue := func(dir string, timeout time.Duration) func(*Config) {
		return func(c *Config) { c.QueueDir, c.BottleSlug, c.TokenAllowTimeout = dir, "impl-k3x9q", timeout }
	}

	t.Run("no queue refuses", func(t *testing.T) {
		p := startProxy(t, up, supervisePolicy, nil)
		st, code, body := post(t, p)
		if st != 403 || code != "dlp" || !strings.Contains(body, "no supervise queue") {
			t.Fatalf("%d %s\n%s", st, code, body)
		}
	})

	t.Run("approve forwards and remembers", func(t *testing.T) {
		dir := t.TempDir()
		p := startProxy(t, up, supervisePolicy, withQueue(dir, time.Minute))
		seen := operator(t, dir, func(q *queue.Queue, id string) {
			q.Respond(id, queue.Response{Status: queue.StatusApproved, Notes: "test fixture"})
		})
		before := up.seen.count()
		if st, code, body := post(t, p); st != 200 {
			t.Fatalf("%d %s\n%s", st, code, body)
		}
		prop := <-seen
		if prop.Tool != queue.ToolEgressTokenAllow || prop.BottleSlug != "impl-k3x9q" || prop.CurrentFileHash == "" {
			t.Errorf("proposal = %+v", prop)
		}
		raw, _ := os.ReadFile(filepath.Join(dir, queue.ProcessedDir, prop.ID+".proposal.json"))
		if len(raw) == 0 {
			t.Error("proposal not archived after the answer was read")
		}
		if strings.Contains(string(raw), "real-upstream-token") || strings.Contains(prop.ProposedFile+prop.Justification, "real-upstream-token") {
			t.Error("proposal contains the raw secret")
		}
		if !strings.Contains(prop.ProposedFile, "known_secrets") || !strings.Contains(prop.ProposedFile, "UP_TOKEN") {
			t.Errorf("proposal does not say what was found:\n%s", prop.ProposedFile)
		}
		// The same value again: no new hold.
		if st, _, _ := post(t, p); st != 200 {
			t.Fatalf("approved value held again: %d", st)
		}
		if ps, _ := queue.New(dir).Pending(); len(ps) != 0 || up.seen.count() != before+2 {
			t.Errorf("pending %d, upstream got %d", len(ps), up.seen.count()-before)
		}
	})

	t.Run("identical requests share one proposal", func(t *testing.T) {
		dir := t.TempDir()
		p := startProxy(t, up, supervisePolicy, withQueue(dir, time.Minute))
		c := p.client(t)
		results := make(chan int, 2)
		for range 2 {
			go func() {
				st, _, _, _ := do(t, c, newReq(t, "POST", "https://up.example.com:"+up.port+"/v1/x", strings.NewReader(leak)))
				results <- st
			}()
		}
		// Answer only once both requests wait on the hold and its proposal
		// is written (the write is fsynced: slow on a busy disk).
		q := queue.New(dir)
		var ps []queue.Proposal
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if ps, _ = q.Pending(); len(ps) > 0 && p.srv.holdWaiters() >= 2 {
				break
			}
		}
		if len(ps) != 1 || p.srv.holdWaiters() != 2 {
			t.Fatalf("%d proposals pending, want 1 (%d waiting)\n%s", len(ps), p.srv.holdWaiters(), p.logText())
		}
		q.Respond(ps[0].ID, queue.Response{Status: queue.StatusApproved, Notes: "ok"})
		for range 2 {
			if st := <-results; st != 200 {
				t.Errorf("status %d", st)
			}
		}
	})

	t.Run("approval remembers that value only", func(t *testing.T) {
		dir := t.TempDir()
		p := startProxy(t, up, "egress:\n  routes:\n    - host: up.example.com\n", withQueue(dir, time.Minute))
		send := func(tok string) int {
			st, _, _, err := do(t, p.client(t), newReq(t, "POST", "https://up.example.com:"+up.port+"/v1/x", strings.NewReader("use "+tok+" here")))
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		approveNext := func(q *queue.Queue, id string) {
			q.Respond(id, queue.Response{Status: queue.StatusApproved, Notes: "fixture"})
		}
		operator(t, dir, approveNext)
		if st := send("ghp_R7kQ2mXw9Lp4TzB8vN3cJ6hY1dF5sG0aE2uK"); st != 200 {
			t.Fatalf("approved request: %d", st)
		}
		if st := send("ghp_R7kQ2mXw9Lp4TzB8vN3cJ6hY1dF5sG0aE2uK"); st != 200 {
			t.Fatalf("the approved value was held again: %d", st)
		}
		seen := operator(t, dir, func(q *queue.Queue, id string) {
			q.Respond(id, queue.Response{Status: queue.StatusRejected, Notes: "no"})
		})
		if st := send("ghp_Z3nM8qW1eR5tY7uI9oP2aS4dF6gH8jK0lX1c"); st != 403 {
			t.Fatalf("another value of the same rule passed: %d", st)
		}
		if prop := <-seen; !strings.Contains(prop.ProposedFile, "github-pat") || strings.Contains(prop.ProposedFile, "ghp_Z3nM8") {
			t.Errorf("proposal:\n%s", prop.ProposedFile)
		}
	})

	cases := []struct {
		name, want string
		answer     func(q *queue.Queue, id string)
		timeout    time.Duration
	}{
		{"reject", "rejected by the operator", func(q *queue.Queue, id string) {
			q.Respond(id, queue.Response{Status: queue.StatusRejected, Notes: "no"})
		}, time.Minute},
		{"modified is not an approval", "approve or reject only", func(q *queue.Queue, id string) {
			q.Respond(id, queue.Response{Status: queue.StatusModified, FinalFile: "x"})
		}, time.Minute},
		{"malformed", "malformed", func(q *queue.Queue, id string) {
			os.WriteFile(filepath.Join(q.Dir, id+".response.json"), []byte("{not json"), 0o600)
		}, time.Minute},
		{"timeout", "no answer", nil, 50 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := startProxy(t, up, supervisePolicy, withQueue(dir, c.timeout))
			operator(t, dir, c.answer)
			st, code, body := post(t, p)
			if st != 403 || code != "dlp" || !strings.Contains(body, c.want) {
				t.Fatalf("%d %s\n%s", st, code, body)
			}
		})
	}
}

func (s *Server) holdWaiters() int {
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	n := 0
	for _, c := range s.holds {
		n += c.waiters
	}
	return n
}
