package attest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/attest/probe"
	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// ProbeCommand is the hidden subcommand of the bot-bottle binary that runs
// the probes inside the agent.
const ProbeCommand = "attest-probe"

// Runner is the part of a backend attestation uses.
type Runner interface {
	Exec(ctx context.Context, slug string, spec backend.ExecSpec) (int, error)
	CopyInto(ctx context.Context, slug, dir string, tarball io.Reader) error
}

// Options tune a run.
type Options struct {
	// Binary is a static bot-bottle binary on the host, copied into the
	// agent to run the probes (unless InAgent is set).
	Binary string
	// InAgent is a probe binary already in the agent and read-only to it:
	// the host's own, mounted by the backend at launch
	// (backend.Bottle.ProbePath). "": Binary is copied in for the run,
	// owned by root, and removed after.
	InAgent string
	// Phase names the run in the log: "start" or "doctor".
	Phase string
	// LogsDir is the bottle's logs directory ("": no log).
	LogsDir string
	// Timeout bounds each probe (default probe.DefaultTimeout); they run
	// concurrently.
	Timeout time.Duration
	// Now is the log's clock (nil: time.Now).
	Now func() time.Time
	// ExtraTCP are more host:port targets that must stay closed (a test's
	// own listeners).
	ExtraTCP []string
}

// Backend is what BeforeAgent needs of a backend: running the probes and
// finding what they must not reach.
type Backend interface {
	Runner
	Targets(ctx context.Context, slug string) (Targets, error)
}

// BeforeAgent attests the bottle slug: nil when every probe stayed
// closed, a *LeakError naming each leak and its fix when one did not,
// another error when the probes could not run. Either error means the
// agent must not get the bottle.
func BeforeAgent(ctx context.Context, be Backend, slug string, o Options) (Report, error) {
	return Begin(ctx, be, slug, o).Finish(ctx)
}

// Attestation is one attestation in progress (Begin).
type Attestation struct {
	slug string
	be   Runner
	o    Options
	rep  Report
	// begun is closed once the host listener is up and the wall probes
	// are running (or could not start: err, runErr).
	begun  chan struct{}
	err    error // nothing could be attested (no targets, no listener)
	runErr error // the probes could not run
	can    *canary
	exe    string
	clean  func()
	early  []int // the checks of the agent's own network walls
	late   []int // the checks that need the sidecar: resolver, proxy
	wall   chan probeOut
}

type probeOut struct {
	out []byte
	err error
}

// Begin starts attesting the bottle slug, whose agent container must run
// while its sidecar need not be ready yet: it finds the targets, starts
// the host listener and runs the probes of the agent's own network walls
// (host addresses, gateways, outside addresses, IPv6), which do not
// depend on the sidecar. It returns at once; Finish, called once the
// sidecar is ready, runs the probes that go through the sidecar (its
// resolver, its proxy) and gives the verdict. Nothing is decided before
// Finish: an Attestation that is never finished hands nothing over.
func Begin(ctx context.Context, be Backend, slug string, o Options) *Attestation {
	a := newAttestation(be, slug, o)
	go a.begin(ctx, func() (Targets, error) { return be.Targets(ctx, slug) })
	return a
}

// Run runs every check for t in the agent of slug and returns the report.
// An error means the probes could not run; a report with bad checks is
// returned with a nil error (see Report.Err).
func Run(ctx context.Context, be Runner, slug string, t Targets, o Options) (Report, error) {
	a := newAttestation(be, slug, o)
	a.begin(ctx, func() (Targets, error) { return t, nil })
	return a.finish(ctx)
}

func newAttestation(be Runner, slug string, o Options) *Attestation {
	if o.Timeout <= 0 {
		o.Timeout = probe.DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Attestation{slug: slug, be: be, o: o, rep: Report{Slug: slug}, begun: make(chan struct{}), clean: func() {}, wall: make(chan probeOut, 1)}
}

func (a *Attestation) begin(ctx context.Context, targets func() (Targets, error)) {
	defer close(a.begun)
	t, err := targets()
	if err != nil {
		a.err = fmt.Errorf("attesting %s: %w", a.slug, err)
		return
	}
	a.rep.hints = t.FixHints
	a.can, err = startCanary(t.AgentAddrs)
	if err != nil {
		a.err = fmt.Errorf("attesting %s: starting the host listener: %w", a.slug, err)
		return
	}
	t.ExtraTCP = append(t.ExtraTCP, a.o.ExtraTCP...)
	a.rep.Checks = Plan(t, a.can.port())
	for i, c := range a.rep.Checks {
		if c.Category == CatResolver || c.Category == CatProxy {
			a.late = append(a.late, i)
		} else {
			a.early = append(a.early, i)
		}
	}
	a.exe, a.clean, a.runErr = place(ctx, a.be, a.slug, a.o)
	if a.runErr != nil {
		return
	}
	go func() {
		out, err := a.probe(ctx, a.early)
		a.wall <- probeOut{out, err}
	}()
}

// Finish runs the probes that need the sidecar, waits for the others and
// returns the verdict, as BeforeAgent does: nil only when every probe
// stayed closed.
func (a *Attestation) Finish(ctx context.Context) (Report, error) {
	rep, err := a.finish(ctx)
	if err != nil {
		return rep, err
	}
	return rep, rep.Err()
}

func (a *Attestation) finish(ctx context.Context) (Report, error) {
	<-a.begun
	if a.err != nil {
		return a.rep, a.err
	}
	runErr := a.runErr
	if runErr == nil {
		late, lateErr := a.probe(ctx, a.late)
		wall := <-a.wall
		runErr = errors.Join(wall.err, lateErr)
		if runErr == nil {
			runErr = errors.Join(a.apply(a.early, wall.out), a.apply(a.late, late))
		}
	}
	a.clean()
	heard := a.can.stop()
	rep := a.rep
	if runErr != nil {
		// Every check failed; the log says so, and keeps what the host
		// listener saw.
		for i := range rep.Checks {
			rep.Checks[i].Result = probe.Result{ID: rep.Checks[i].Spec.ID, Failed: true, Got: oneLine(runErr.Error())}
		}
	}
	rep.Checks = withCanary(rep.Checks, heard)
	if a.o.LogsDir != "" {
		if err := rep.Log(a.o.LogsDir, a.o.Phase, a.o.Now()); err != nil && runErr == nil {
			return rep, err
		}
	}
	if runErr != nil {
		if len(heard) > 0 {
			return rep, fmt.Errorf("attesting %s: %w (and the host listener saw a connection from the agent)", a.slug, runErr)
		}
		return rep, fmt.Errorf("attesting %s: %w", a.slug, runErr)
	}
	return rep, nil
}

// apply fills the checks at idx with the probe program's answer to them.
func (a *Attestation) apply(idx []int, out []byte) error {
	cs := make([]Check, len(idx))
	for j, i := range idx {
		cs[j] = a.rep.Checks[i]
	}
	err := Apply(cs, out)
	for j, i := range idx {
		a.rep.Checks[i] = cs[j]
	}
	return err
}

// probe runs the checks at idx in one run of the probe program.
func (a *Attestation) probe(ctx context.Context, idx []int) ([]byte, error) {
	specs := make([]probe.Spec, len(idx))
	for j, i := range idx {
		specs[j] = a.rep.Checks[i].Spec
	}
	return runProbes(ctx, a.be, a.slug, a.exe, a.o.Timeout, specs)
}

// withCanary applies the host listener's own record: a connection to a
// host address is a leak on that address's row whatever the probe program
// said, and one to an address no row names gets a row of its own.
func withCanary(cs []Check, seen []heard) []Check {
	for _, h := range seen {
		note := fmt.Sprintf("the host listener saw a connection from the agent (%s)", h.from)
		matched := false
		for i, c := range cs {
			ap, err := netip.ParseAddrPort(c.Spec.Addr)
			if c.Category != CatHost || !c.listener || err != nil || ap.Addr().Unmap() != h.to {
				continue
			}
			matched = true
			if !c.Result.Leaked {
				cs[i].Result.Leaked = true
				cs[i].Result.Got = note + "; the probe said: " + c.Result.Got
			}
		}
		if !matched {
			cs = append(cs, Check{
				Name: "host listener on " + h.to.String(), Category: CatHost,
				Spec:   probe.Spec{Kind: probe.KindTCP, Addr: h.to.String()},
				Result: probe.Result{Leaked: true, Got: note},
			})
		}
	}
	return cs
}

// place puts the probe program in the agent: the binary the backend
// mounted, or a copy of o.Binary, owned by root and removed by the
// returned function.
func place(ctx context.Context, be Runner, slug string, o Options) (exe string, clean func(), err error) {
	if o.InAgent != "" {
		return o.InAgent, func() {}, nil
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return "", nil, fmt.Errorf("reading the probe binary: %w", err)
	}
	rnd := make([]byte, 8)
	rand.Read(rnd)
	dir := "/tmp/bot-bottle-attest-" + hex.EncodeToString(rnd)
	tb, err := probeTar(dir, bin)
	if err != nil {
		return "", nil, err
	}
	if err := be.CopyInto(ctx, slug, "/", tb); err != nil {
		return "", nil, fmt.Errorf("copying the probe binary into the agent: %w", err)
	}
	return path.Join(dir, "bot-bottle"), func() {
		// Root owns the copy, so root removes it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		be.Exec(cctx, slug, backend.ExecSpec{Cmd: []string{"rm", "-rf", dir}, User: "0:0"})
	}, nil
}

// runProbes runs specs with the probe program exe, as the agent's user,
// and returns the program's output.
func runProbes(ctx context.Context, be Runner, slug, exe string, timeout time.Duration, specs []probe.Spec) ([]byte, error) {
	req, err := json.Marshal(probe.Request{TimeoutMS: int(timeout / time.Millisecond), Probes: specs})
	if err != nil {
		return nil, err
	}
	ectx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = 4<<20, 64<<10
	code, err := be.Exec(ectx, slug, backend.ExecSpec{
		Cmd:   []string{exe, ProbeCommand},
		Stdin: bytes.NewReader(req), Stdout: &stdout, Stderr: &stderr,
	})
	if err != nil {
		return nil, fmt.Errorf("running the probes: %w", err)
	}
	if code != 0 {
		return nil, fmt.Errorf("running the probes: exit %d: %s", code, oneLine(strings.TrimSpace(stderr.String())))
	}
	return stdout.Bytes(), nil
}

// probeTar packs the binary as dir/bot-bottle, owned by root and not
// writable by the agent, so a running agent cannot swap it (doctor).
func probeTar(dir string, bin []byte) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	name := strings.TrimPrefix(dir, "/")
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: now}); err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name + "/bot-bottle", Mode: 0o555, Size: int64(len(bin)), ModTime: now}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// limitedBuffer keeps at most max bytes: the probe program's output is
// the agent's to shape on a running bottle.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
