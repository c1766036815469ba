package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/provider"
)

// stepBackend launches as a backend does, naming its steps to the timer
// and reporting the agent running before the sidecar is ready; its agent
// prints one line. events records the order things happened in.
type stepBackend struct {
	backend.Backend
	mu     sync.Mutex
	events []string
}

func (s *stepBackend) note(e string) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func (s *stepBackend) Name() string { return "fake" }
func (s *stepBackend) Launch(_ context.Context, b plan.Bottle, lo backend.LaunchOptions) (backend.Bottle, error) {
	out := backend.Bottle{Slug: b.Slug, ProbePath: "/probe"}
	for _, step := range []string{"checking the engine", "creating the networks", "creating the sidecar", "starting the sidecar", "creating the agent", "starting the agent"} {
		lo.Timer(step)()
	}
	lo.AgentRunning(out)
	s.note("agent running")
	end := lo.Timer("waiting for the sidecar")
	s.note("sidecar ready")
	end()
	return out, nil
}
func (s *stepBackend) CopyInto(context.Context, string, string, io.Reader) error {
	s.note("copy")
	return nil
}
func (s *stepBackend) Exec(_ context.Context, _ string, spec backend.ExecSpec) (int, error) {
	s.note("exec " + spec.Cmd[0])
	if spec.Stdout != nil {
		io.WriteString(spec.Stdout, "hello\n")
	}
	return 0, nil
}
func (s *stepBackend) Remove(context.Context, string) error { return nil }

func timedStart(t *testing.T, be *stepBackend, verdict error) (int, string, error) {
	t.Helper()
	var timings, out bytes.Buffer
	code, err := Start(context.Background(), testPlan(t), StartOptions{
		Backend: be,
		Provision: provider.Provision{
			Command: []string{"agent"}, Template: "shell",
			Files: []provider.File{{Path: "/home/agent/.config/x", Content: "x"}},
		},
		Session: Session{Stdout: &out},
		AttestEarly: func(_ context.Context, b backend.Bottle) func(context.Context) error {
			be.note("attest begin " + b.ProbePath)
			return func(context.Context) error {
				be.note("attest verdict")
				return verdict
			}
		},
		Timings: &timings,
	})
	return code, timings.String(), err
}

// TestStartTimings: --timings prints every phase of a start, the
// backend's steps and start's own, and the time to the agent's first
// output.
func TestStartTimings(t *testing.T) {
	be := &stepBackend{}
	code, got, err := timedStart(t, be, nil)
	if err != nil || code != 0 {
		t.Fatalf("start: %d %v", code, err)
	}
	for _, phase := range []string{
		PhaseState, PhaseCapabilities, PhaseLaunch,
		"checking the engine", "creating the networks", "creating the sidecar", "starting the sidecar",
		"creating the agent", "starting the agent", "waiting for the sidecar",
		PhaseAttest, PhaseVerdict, PhaseFiles, PhaseCommand,
		"to the agent's first output:",
	} {
		if !strings.Contains(got, phase) {
			t.Errorf("the breakdown lacks %q:\n%s", phase, got)
		}
	}
	if strings.Contains(got, "unfinished") {
		t.Errorf("a phase never ended:\n%s", got)
	}
	t.Logf("\n%s", got)
}

// TestAttestationBeginsEarlyAndGatesTheCommand: the attestation begins
// when the backend reports the agent running, before the sidecar is ready,
// with the mounted probe binary; the agent's command runs only after the
// verdict, and a refusal means it never runs.
func TestAttestationBeginsEarlyAndGatesTheCommand(t *testing.T) {
	be := &stepBackend{}
	if _, _, err := timedStart(t, be, nil); err != nil {
		t.Fatal(err)
	}
	ev := strings.Join(be.events, ", ")
	begin, ready := strings.Index(ev, "attest begin /probe"), strings.Index(ev, "sidecar ready")
	verdict, run := strings.Index(ev, "attest verdict"), strings.Index(ev, "exec agent")
	if begin < 0 || ready < begin || verdict < ready || run < verdict {
		t.Errorf("events %s: want the attestation begun before the sidecar is ready and the command after its verdict", ev)
	}

	be = &stepBackend{}
	refused := errors.New("bottle x is not sealed")
	code, _, err := timedStart(t, be, refused)
	if !errors.Is(err, refused) || code != -1 {
		t.Errorf("start with a refusal: %d %v", code, err)
	}
	if ev := strings.Join(be.events, ", "); strings.Contains(ev, "exec agent") {
		t.Errorf("the agent's command ran in a refused bottle: %s", ev)
	}
}
