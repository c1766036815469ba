package cli

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/supervise/apply"
	"github.com/bot-bottle/bot-bottle/internal/supervise/queue"
)

// watchProposals prints one line on w for each proposal bottle slug files
// while a headless start runs: nobody else may be looking. It returns a
// function that stops the watch and waits for it.
func watchProposals(ctx context.Context, w io.Writer, home, slug string, poll time.Duration) func() {
	ctx, cancel := context.WithCancel(ctx)
	q := queue.New(apply.Paths{Home: home, Slug: slug}.Queue())
	seen := map[string]bool{}
	scan := func() {
		ps, _ := q.Pending()
		for _, p := range ps {
			if !seen[p.ID] {
				seen[p.ID] = true
				fmt.Fprintf(w, "bot-bottle: %s: %s waiting for a human: bot-bottle supervise\n", slug, apply.Summarize(p))
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				scan() // one last look: a proposal filed just before the end
				return
			case <-t.C:
				scan()
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}
