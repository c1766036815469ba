package lifecycle

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Phase names of a start's own steps (the backend names its own, through
// LaunchOptions.Timer).
const (
	PhaseState        = "preparing state and the CA"
	PhaseCapabilities = "applying approved capabilities"
	PhaseLaunch       = "launching the bottle (the steps above and below, in all)"
	PhaseAttest       = "attestation, in all (from the agent's container running)"
	PhaseVerdict      = "attestation: waiting for the verdict"
	PhaseFiles        = "copying files and skills into the agent"
	PhaseWorkspace    = "copying the workspace into the agent"
	PhaseCommand      = "the agent's command, to its first output"
)

// Timings records the phases of one start (start --timings): when each
// began after the start did and how long it took. Phases may overlap: the
// sidecar and the agent come up side by side, attestation runs beside
// them and beside provisioning. A nil *Timings records nothing.
type Timings struct {
	mu     sync.Mutex
	now    func() time.Time
	began  time.Time
	phases []timedPhase
	first  time.Duration // the agent's first output, after the start
}

type timedPhase struct {
	name       string
	start, end time.Duration
	done       bool
}

// NewTimings starts the clock (now nil: time.Now).
func NewTimings(now func() time.Time) *Timings {
	if now == nil {
		now = time.Now
	}
	return &Timings{now: now, began: now()}
}

// Begin records that phase name began and returns what ends it.
func (t *Timings) Begin(name string) (end func()) {
	if t == nil {
		return func() {}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	i := len(t.phases)
	t.phases = append(t.phases, timedPhase{name: name, start: t.now().Sub(t.began)})
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.phases[i].end, t.phases[i].done = t.now().Sub(t.began), true
		})
	}
}

// timer is Begin as a backend.LaunchOptions.Timer (nil when t is).
func (t *Timings) timer() func(string) func() {
	if t == nil {
		return nil
	}
	return t.Begin
}

// Write prints one row per phase, in the order they began, and the time to
// the agent's first output.
func (t *Timings) Write(w io.Writer) error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintln(w, "timings (seconds after the start began; phases overlap where they ran side by side):")
	fmt.Fprintf(w, "  %8s %8s  %s\n", "AT", "TOOK", "PHASE")
	for _, p := range t.phases {
		took := "unfinished"
		if p.done {
			took = secs(p.end - p.start)
		}
		fmt.Fprintf(w, "  %8s %8s  %s\n", secs(p.start), took, p.name)
	}
	if t.first > 0 {
		_, err := fmt.Fprintf(w, "  to the agent's first output: %s s\n", secs(t.first))
		return err
	}
	return nil
}

// firstOutput notes the first write to w: the agent's command is running.
func (t *Timings) firstOutput(w io.Writer, end func()) io.Writer {
	if t == nil || w == nil {
		return w
	}
	return &firstWriter{w: w, seen: func() {
		end()
		t.mu.Lock()
		if t.first == 0 {
			t.first = t.now().Sub(t.began)
		}
		t.mu.Unlock()
	}}
}

type firstWriter struct {
	w    io.Writer
	once sync.Once
	seen func()
}

func (f *firstWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		f.once.Do(f.seen)
	}
	return f.w.Write(p)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
