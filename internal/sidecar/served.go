package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// served adapts a daemon package's server to Daemon: run serves until ctx
// ends and calls ready once it accepts work; the files the daemon logs to
// are closed when it stops.
type served struct {
	name    string
	run     func(ctx context.Context, ready func()) error
	ready   chan struct{}
	once    sync.Once
	closers []io.Closer
}

func newServed(name string, run func(ctx context.Context, ready func()) error, closers ...io.Closer) *served {
	return &served{name: name, run: run, ready: make(chan struct{}), closers: closers}
}

func (s *served) Name() string           { return s.name }
func (s *served) Ready() <-chan struct{} { return s.ready }

func (s *served) Run(ctx context.Context) error {
	err := s.run(ctx, func() { s.once.Do(func() { close(s.ready) }) })
	for _, c := range s.closers {
		err = errors.Join(err, c.Close())
	}
	return err
}

// daemonLog opens logs/<name>.jsonl for appending and returns a JSON logger
// on it: a daemon's decisions go to its own file on the host.
func daemonLog(cfg Config, name string) (*slog.Logger, io.Closer, error) {
	path := filepath.Join(cfg.Dir("logs"), name+".jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("daemon %s: opening log: %w", name, err)
	}
	return slog.New(slog.NewJSONHandler(f, nil)).With("daemon", name), f, nil
}
