package attest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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
	// agent to run the probes.
	Binary string
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
	t, err := be.Targets(ctx, slug)
	if err != nil {
		return Report{Slug: slug}, fmt.Errorf("attesting %s: %w", slug, err)
	}
	rep, err := Run(ctx, be, slug, t, o)
	if err != nil {
		return rep, err
	}
	return rep, rep.Err()
}

// Run runs every check for t in the agent of slug and returns the report.
// An error means the probes could not run; a report with bad checks is
// returned with a nil error (see Report.Err).
func Run(ctx context.Context, be Runner, slug string, t Targets, o Options) (Report, error) {
	rep := Report{Slug: slug, hints: t.FixHints}
	if o.Timeout <= 0 {
		o.Timeout = probe.DefaultTimeout
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	can, err := startCanary(t.AgentAddrs)
	if err != nil {
		return rep, fmt.Errorf("attesting %s: starting the host listener: %w", slug, err)
	}
	t.ExtraTCP = append(t.ExtraTCP, o.ExtraTCP...)
	rep.Checks = Plan(t, can.port())
	out, runErr := runProbes(ctx, be, slug, o, Specs(rep.Checks))
	heard := can.stop()
	if runErr == nil {
		runErr = Apply(rep.Checks, out)
	}
	if runErr != nil {
		// Every check failed; the log says so, and keeps what the host
		// listener saw.
		for i := range rep.Checks {
			rep.Checks[i].Result = probe.Result{ID: rep.Checks[i].Spec.ID, Failed: true, Got: oneLine(runErr.Error())}
		}
	}
	rep.Checks = withCanary(rep.Checks, heard)
	if o.LogsDir != "" {
		if err := rep.Log(o.LogsDir, o.Phase, now()); err != nil && runErr == nil {
			return rep, err
		}
	}
	if runErr != nil {
		if len(heard) > 0 {
			return rep, fmt.Errorf("attesting %s: %w (and the host listener saw a connection from the agent)", slug, runErr)
		}
		return rep, fmt.Errorf("attesting %s: %w", slug, runErr)
	}
	return rep, nil
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

// runProbes copies the binary into the agent, runs the probes as the
// agent's user and removes the binary again. It returns the probe
// program's output.
func runProbes(ctx context.Context, be Runner, slug string, o Options, specs []probe.Spec) ([]byte, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("reading the probe binary: %w", err)
	}
	rnd := make([]byte, 8)
	rand.Read(rnd)
	dir := "/tmp/bot-bottle-attest-" + hex.EncodeToString(rnd)
	exe := path.Join(dir, "bot-bottle")
	tb, err := probeTar(dir, bin)
	if err != nil {
		return nil, err
	}
	if err := be.CopyInto(ctx, slug, "/", tb); err != nil {
		return nil, fmt.Errorf("copying the probe binary into the agent: %w", err)
	}
	defer func() {
		// Root owns the copy, so root removes it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		be.Exec(cctx, slug, backend.ExecSpec{Cmd: []string{"rm", "-rf", dir}, User: "0:0"})
	}()
	req, err := json.Marshal(probe.Request{TimeoutMS: int(o.Timeout / time.Millisecond), Probes: specs})
	if err != nil {
		return nil, err
	}
	ectx, cancel := context.WithTimeout(ctx, o.Timeout+30*time.Second)
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
