// Package sidecar runs the sidecar's daemons (egress, supervise, dns,
// git-gate) as one bundle: it starts them in order, reports when all of them
// accept work, stops every one when any of them dies, and gives each a grace
// period on shutdown.
package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/atomicfile"
)

// Daemon is one long-running part of the sidecar.
type Daemon interface {
	// Name is the daemon's name in BOT_BOTTLE_SIDECAR_DAEMONS.
	Name() string
	// Run serves until ctx is done and returns nil after a clean shutdown.
	// Returning while ctx is live, with or without an error, means the
	// daemon died. Run is called once.
	Run(ctx context.Context) error
	// Ready is closed once the daemon accepts work (its listener is bound
	// and its configuration loaded).
	Ready() <-chan struct{}
}

// ReadyFile is the readiness marker's name in the sidecar's logs directory
// (state/<slug>/logs/ on the host). It exists exactly while every daemon is
// ready; it holds a ReadyMarker.
const ReadyFile = "sidecar.ready"

// ReadyLine starts the line printed on stdout when the bundle is ready,
// followed by the daemon names joined by commas.
const ReadyLine = "bot-bottle sidecar ready: "

// ReadyMarker is the content of ReadyFile.
type ReadyMarker struct {
	// Daemons are the daemons running, in start order.
	Daemons []string `json:"daemons"`
	// PID is the bundle's process id (inside its container).
	PID int `json:"pid"`
	// Time is when the bundle became ready (RFC 3339, UTC).
	Time time.Time `json:"time"`
}

// Default timings.
const (
	DefaultGrace        = 10 * time.Second
	DefaultReadyTimeout = 60 * time.Second
)

// Bundle runs daemons together.
type Bundle struct {
	// Daemons in start order; they stop in reverse order.
	Daemons []Daemon
	// ReadyPath is where the readiness marker is written ("" for none).
	ReadyPath string
	// Stdout gets the ready line. Default: discard.
	Stdout io.Writer
	// Grace is how long each daemon gets to stop. Default 10 s.
	Grace time.Duration
	// ReadyTimeout is how long each daemon gets to become ready.
	// Default 60 s.
	ReadyTimeout time.Duration
	// Logger gets lifecycle messages. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// exit is one daemon's Run returning.
type exit struct {
	i   int
	err error
}

// running is a started daemon.
type running struct {
	d      Daemon
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	// reported is set once the bundle has turned this daemon's exit into
	// its own error.
	reported bool
}

// Run starts the daemons in order, each once the one before it is ready,
// then serves until ctx is done (a clean shutdown: nil) or a daemon stops
// (an error naming it). Either way every started daemon is stopped, in
// reverse order, each within the grace period.
func (b *Bundle) Run(ctx context.Context) error {
	b.defaults()
	if len(b.Daemons) == 0 {
		return errors.New("running sidecar: no daemons")
	}
	// A marker left by an earlier run must not announce this one.
	if err := b.removeMarker(); err != nil {
		return err
	}

	exits := make(chan exit, len(b.Daemons))
	var started []*running
	stopAll := func() error { return b.stop(started) }

	for i, d := range b.Daemons {
		dctx, cancel := context.WithCancel(context.Background())
		r := &running{d: d, cancel: cancel, done: make(chan struct{})}
		started = append(started, r)
		go func() {
			r.err = d.Run(dctx)
			close(r.done)
			exits <- exit{i: i, err: r.err}
		}()
		b.Logger.Info("starting daemon", "daemon", d.Name())

		timer := time.NewTimer(b.ReadyTimeout)
		select {
		case <-d.Ready():
			timer.Stop()
			b.Logger.Info("daemon ready", "daemon", d.Name())
		case e := <-exits:
			timer.Stop()
			started[e.i].reported = true
			err := died(b.Daemons[e.i], e.err, "before the bundle was ready")
			return errors.Join(err, stopAll())
		case <-timer.C:
			err := fmt.Errorf("starting sidecar: daemon %s not ready after %s", d.Name(), b.ReadyTimeout)
			return errors.Join(err, stopAll())
		case <-ctx.Done():
			timer.Stop()
			return stopAll()
		}
	}

	if err := b.writeMarker(); err != nil {
		return errors.Join(err, stopAll())
	}
	fmt.Fprintf(b.Stdout, "%s%s\n", ReadyLine, strings.Join(b.names(), ","))

	select {
	case <-ctx.Done():
		b.Logger.Info("stopping sidecar", "reason", context.Cause(ctx))
		return stopAll()
	case e := <-exits:
		started[e.i].reported = true
		err := died(b.Daemons[e.i], e.err, "")
		b.Logger.Error("daemon died, stopping sidecar", "daemon", b.Daemons[e.i].Name(), "err", e.err)
		return errors.Join(err, stopAll())
	}
}

// died is the error for a daemon that stopped on its own.
func died(d Daemon, err error, when string) error {
	if when != "" {
		when = " " + when
	}
	if err == nil {
		return fmt.Errorf("sidecar daemon %s exited%s", d.Name(), when)
	}
	return fmt.Errorf("sidecar daemon %s died%s: %w", d.Name(), when, err)
}

// stop withdraws the marker, then stops the started daemons in reverse
// order, each within the grace period. A daemon that has already exited is
// not waited for again; its error is added unless the bundle reported it.
func (b *Bundle) stop(started []*running) error {
	errs := []error{b.removeMarker()}
	for i := len(started) - 1; i >= 0; i-- {
		r := started[i]
		select {
		case <-r.done:
			r.cancel()
			if !r.reported && r.err != nil && !errors.Is(r.err, context.Canceled) {
				errs = append(errs, fmt.Errorf("sidecar daemon %s: %w", r.d.Name(), r.err))
			}
			continue
		default:
		}
		r.cancel()
		timer := time.NewTimer(b.Grace)
		select {
		case <-r.done:
			timer.Stop()
			if r.err != nil && !errors.Is(r.err, context.Canceled) {
				errs = append(errs, fmt.Errorf("stopping sidecar daemon %s: %w", r.d.Name(), r.err))
			}
		case <-timer.C:
			errs = append(errs, fmt.Errorf("stopping sidecar daemon %s: still running after %s", r.d.Name(), b.Grace))
		}
	}
	return errors.Join(errs...)
}

func (b *Bundle) defaults() {
	if b.Stdout == nil {
		b.Stdout = io.Discard
	}
	if b.Grace <= 0 {
		b.Grace = DefaultGrace
	}
	if b.ReadyTimeout <= 0 {
		b.ReadyTimeout = DefaultReadyTimeout
	}
	if b.Logger == nil {
		b.Logger = slog.New(slog.DiscardHandler)
	}
	if b.Now == nil {
		b.Now = time.Now
	}
}

func (b *Bundle) names() []string {
	out := make([]string, len(b.Daemons))
	for i, d := range b.Daemons {
		out[i] = d.Name()
	}
	return out
}

func (b *Bundle) writeMarker() error {
	if b.ReadyPath == "" {
		return nil
	}
	m := ReadyMarker{Daemons: b.names(), PID: os.Getpid(), Time: b.Now().UTC()}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("writing readiness marker: %w", err)
	}
	// 0644: the host side (the same uid) and a health check read it.
	if err := atomicfile.Write(b.ReadyPath, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing readiness marker: %w", err)
	}
	return nil
}

func (b *Bundle) removeMarker() error {
	if b.ReadyPath == "" {
		return nil
	}
	if err := os.Remove(b.ReadyPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing readiness marker: %w", err)
	}
	return nil
}

// ReadMarker reads a readiness marker; os.ErrNotExist means not ready.
func ReadMarker(path string) (ReadyMarker, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ReadyMarker{}, err
	}
	var m ReadyMarker
	if err := json.Unmarshal(data, &m); err != nil {
		return ReadyMarker{}, fmt.Errorf("reading readiness marker %s: %w", path, err)
	}
	return m, nil
}

// WaitReady polls for the readiness marker at path until it appears, ctx
// ends, or exited is closed (the sidecar stopped: it will never be ready).
// A backend watching the host side of logs/ uses it.
func WaitReady(ctx context.Context, path string, exited <-chan struct{}, poll time.Duration) (ReadyMarker, error) {
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		m, err := ReadMarker(path)
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return ReadyMarker{}, err
		}
		select {
		case <-ctx.Done():
			return ReadyMarker{}, fmt.Errorf("waiting for the sidecar: %w", context.Cause(ctx))
		case <-exited:
			return ReadyMarker{}, errors.New("waiting for the sidecar: it stopped before it was ready")
		case <-t.C:
		}
	}
}
