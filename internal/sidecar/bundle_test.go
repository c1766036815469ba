package sidecar

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/testenv"
)

// journal records daemon events in order, shared by the fakes of one test.
type journal struct {
	mu     sync.Mutex
	events []string
}

func (j *journal) add(e string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, e)
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.events...)
}

// fake is a daemon run as a goroutine. By default it becomes ready at once
// and stops when its context ends.
type fake struct {
	name  string
	j     *journal
	ready chan struct{}
	// gate, when set, holds readiness until it is closed.
	gate chan struct{}
	// die makes Run return what is sent on it.
	die chan error
	// stubborn ignores its context.
	stubborn bool
	// neverReady never closes ready.
	neverReady bool
}

func newFake(j *journal, name string) *fake {
	return &fake{name: name, j: j, ready: make(chan struct{}), die: make(chan error, 1)}
}

func (f *fake) Name() string           { return f.name }
func (f *fake) Ready() <-chan struct{} { return f.ready }

func (f *fake) Run(ctx context.Context) error {
	f.j.add("start " + f.name)
	if !f.neverReady {
		go func() {
			if f.gate != nil {
				<-f.gate
			}
			f.j.add("ready " + f.name)
			close(f.ready)
		}()
	}
	if f.stubborn {
		<-make(chan struct{})
	}
	select {
	case <-ctx.Done():
		f.j.add("stop " + f.name)
		return nil
	case err := <-f.die:
		f.j.add("die " + f.name)
		return err
	}
}

// runBundle runs b in the background and returns a function that waits for
// its result.
func runBundle(ctx context.Context, b *Bundle) func() error {
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	return func() error { return <-done }
}

// waitMarker waits for the ready line, then reads the marker.
func waitMarker(t *testing.T, path string, stdout *testenv.LockedBuffer) ReadyMarker {
	t.Helper()
	for range 500 {
		if strings.Contains(stdout.String(), ReadyLine) {
			m, err := ReadMarker(path)
			if err != nil {
				t.Fatalf("ready line printed but marker unreadable: %v", err)
			}
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("bundle never became ready")
	return ReadyMarker{}
}

func TestBundleStartsInOrderAndStopsInReverse(t *testing.T) {
	j := &journal{}
	dir := t.TempDir()
	marker := filepath.Join(dir, ReadyFile)
	if err := os.WriteFile(marker, []byte(`{"daemons":["stale"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	egress, supervise, dns := newFake(j, "egress"), newFake(j, "supervise"), newFake(j, "dns")
	supervise.gate = make(chan struct{})
	stdout := &testenv.LockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := runBundle(ctx, &Bundle{Daemons: []Daemon{egress, supervise, dns}, ReadyPath: marker, Stdout: stdout})

	<-egress.ready
	// supervise is not ready: dns must not have started, and the stale
	// marker must be gone.
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale marker still there while starting: %v", err)
	}
	close(supervise.gate)
	m := waitMarker(t, marker, stdout)
	if diff := cmp.Diff([]string{"egress", "supervise", "dns"}, m.Daemons); diff != "" {
		t.Errorf("marker daemons (-want +got):\n%s", diff)
	}
	if got := stdout.String(); got != ReadyLine+"egress,supervise,dns\n" {
		t.Errorf("stdout %q", got)
	}

	cancel()
	if err := wait(); err != nil {
		t.Fatalf("clean shutdown returned %v", err)
	}
	want := []string{
		"start egress", "ready egress",
		"start supervise", "ready supervise",
		"start dns", "ready dns",
		"stop dns", "stop supervise", "stop egress",
	}
	if diff := cmp.Diff(want, j.all()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker left after shutdown: %v", err)
	}
}

func TestBundleStopsWhenADaemonDies(t *testing.T) {
	for name, dieWith := range map[string]error{
		"with an error": errors.New("listener broke"),
		"silently":      nil,
	} {
		t.Run(name, func(t *testing.T) {
			j := &journal{}
			marker := filepath.Join(t.TempDir(), ReadyFile)
			egress, supervise, dns := newFake(j, "egress"), newFake(j, "supervise"), newFake(j, "dns")
			stdout := &testenv.LockedBuffer{}
			wait := runBundle(context.Background(), &Bundle{Daemons: []Daemon{egress, supervise, dns}, ReadyPath: marker, Stdout: stdout})
			waitMarker(t, marker, stdout)

			supervise.die <- dieWith
			err := wait()
			if err == nil || !strings.Contains(err.Error(), "sidecar daemon supervise") {
				t.Fatalf("bundle error %v, want one naming supervise", err)
			}
			if dieWith != nil && !errors.Is(err, dieWith) {
				t.Errorf("bundle error %v does not wrap the daemon's", err)
			}
			got := j.all()[6:]
			if diff := cmp.Diff([]string{"die supervise", "stop dns", "stop egress"}, got); diff != "" {
				t.Errorf("events after death (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("marker left after a death: %v", err)
			}
		})
	}
}

func TestBundleFailsWhenADaemonDiesBeforeReady(t *testing.T) {
	j := &journal{}
	egress, supervise, dns := newFake(j, "egress"), newFake(j, "supervise"), newFake(j, "dns")
	supervise.gate = make(chan struct{}) // never ready
	supervise.die <- errors.New("bad config")
	stdout := &testenv.LockedBuffer{}
	err := (&Bundle{Daemons: []Daemon{egress, supervise, dns}, Stdout: stdout}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "sidecar daemon supervise died before the bundle was ready: bad config") {
		t.Fatalf("error %v", err)
	}
	for _, e := range j.all() {
		if strings.HasSuffix(e, " dns") {
			t.Errorf("dns was started after supervise failed: %v", j.all())
		}
	}
	if stdout.String() != "" {
		t.Errorf("ready line printed for a failed bundle: %q", stdout.String())
	}
}

func TestBundleReadyTimeout(t *testing.T) {
	j := &journal{}
	egress, dns := newFake(j, "egress"), newFake(j, "dns")
	dns.neverReady = true
	err := (&Bundle{Daemons: []Daemon{egress, dns}, ReadyTimeout: 20 * time.Millisecond}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "daemon dns not ready after") {
		t.Fatalf("error %v", err)
	}
	if diff := cmp.Diff([]string{"start egress", "ready egress", "start dns", "stop dns", "stop egress"}, j.all()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestBundleGracePeriod(t *testing.T) {
	j := &journal{}
	egress, dns := newFake(j, "egress"), newFake(j, "dns")
	dns.stubborn = true
	stdout := &testenv.LockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	marker := filepath.Join(t.TempDir(), ReadyFile)
	wait := runBundle(ctx, &Bundle{Daemons: []Daemon{egress, dns}, ReadyPath: marker, Stdout: stdout, Grace: 20 * time.Millisecond})
	waitMarker(t, marker, stdout)
	cancel()
	err := wait()
	if err == nil || !strings.Contains(err.Error(), "stopping sidecar daemon dns: still running after") {
		t.Fatalf("error %v", err)
	}
	// egress is still stopped after dns overstayed.
	if got := j.all(); got[len(got)-1] != "stop egress" {
		t.Errorf("egress not stopped: %v", got)
	}
}

func TestBundleWithoutDaemons(t *testing.T) {
	if err := (&Bundle{}).Run(context.Background()); err == nil {
		t.Fatal("empty bundle ran")
	}
}

func TestWaitReady(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, ReadyFile)
	j := &journal{}
	stdout := &testenv.LockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := runBundle(ctx, &Bundle{Daemons: []Daemon{newFake(j, "dns")}, ReadyPath: marker, Stdout: stdout})
	m, err := WaitReady(context.Background(), marker, nil, time.Millisecond)
	if err != nil || len(m.Daemons) != 1 || m.Daemons[0] != "dns" {
		t.Fatalf("WaitReady: %+v, %v", m, err)
	}
	cancel()
	wait()

	exited := make(chan struct{})
	close(exited)
	if _, err := WaitReady(context.Background(), marker, exited, time.Millisecond); err == nil {
		t.Error("WaitReady succeeded for a sidecar that stopped")
	}
	os.WriteFile(marker, []byte("{"), 0o644)
	if _, err := WaitReady(context.Background(), marker, nil, time.Millisecond); err == nil {
		t.Error("WaitReady accepted a broken marker")
	}
}
