package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// sealCheck is one start's attestation: begun as soon as the agent's
// container runs (early, the two-half form) or once the bottle is up,
// run beside provisioning, and waited for before the agent's command.
type sealCheck struct {
	early    func(context.Context, backend.Bottle) func(context.Context) error
	whole    func(context.Context, backend.Bottle) error
	tm       *Timings
	progress io.Writer

	once   sync.Once
	finish func(context.Context) error
	endAll func()
}

func (s *sealCheck) configured() bool { return s.early != nil || s.whole != nil }

// agentRunning is the backend's LaunchOptions.AgentRunning: the early form
// begins there, while the sidecar may still be starting.
func (s *sealCheck) agentRunning(ctx context.Context) func(backend.Bottle) {
	if s.early == nil {
		return nil
	}
	return func(b backend.Bottle) { s.begin(ctx, b) }
}

// begin starts the attestation once (the early form, if the backend never
// said the agent runs; the whole form always: it probes the proxy, so it
// waits for the launch to finish).
func (s *sealCheck) begin(ctx context.Context, b backend.Bottle) {
	if !s.configured() {
		return
	}
	s.once.Do(func() {
		fmt.Fprintln(s.progress, "• attesting that the bottle is sealed")
		s.endAll = s.tm.Begin(PhaseAttest)
		if s.early != nil {
			s.finish = s.early(ctx, b)
			return
		}
		done := make(chan error, 1)
		go func() { done <- s.whole(ctx, b) }()
		s.finish = func(context.Context) error { return <-done }
	})
}

// verdict waits for the attestation: nil only when it ran and passed.
func (s *sealCheck) verdict(ctx context.Context) error {
	if !s.configured() {
		return nil
	}
	s.once.Do(func() {}) // after a begin on the backend's goroutine
	if s.finish == nil {
		return errors.New("attesting: the attestation never began") // fail closed
	}
	end := s.tm.Begin(PhaseVerdict)
	err := s.finish(ctx)
	end()
	s.endAll()
	return err
}

// abandon ends an attestation begun for a launch that then failed, so its
// host listener closes; its verdict no longer matters.
func (s *sealCheck) abandon(ctx context.Context) {
	s.once.Do(func() {})
	if s.finish == nil {
		return
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cancel()
	s.finish(cctx)
}

// lockedWriter serialises progress lines written side by side.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
