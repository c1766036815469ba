package queue

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestRacingAnswersOneLands: operators (two terminals, a script) answering
// one proposal at once: exactly one answer lands, every other gets
// ErrAnswered, and the stored answer is the one that landed.
func TestRacingAnswersOneLands(t *testing.T) {
	q := newQueue(t)
	p, err := q.Submit(Proposal{Tool: ToolEgressAllow})
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			status := StatusApproved
			if i%2 == 1 {
				status = StatusRejected
			}
			errs[i] = q.Respond(p.ID, Response{Status: status, Notes: fmt.Sprint("answer ", i)})
		}()
	}
	start.Done()
	done.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("answers %d and %d both landed", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, ErrAnswered):
			t.Fatalf("answer %d: %v, want ErrAnswered", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no answer landed")
	}
	if r, _ := q.Response(p.ID); r.Notes != fmt.Sprint("answer ", won) {
		t.Fatalf("stored answer %q, want the one that landed (answer %d)", r.Notes, won)
	}
}
