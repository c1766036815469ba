package lifecycle

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/plan"
	"github.com/bot-bottle/bot-bottle/internal/provider"
)

// Session is the terminal or pipes the agent runs on.
type Session struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// TTY runs the agent on a terminal (interactive start); Resize carries
	// the terminal's size changes.
	TTY    bool
	Resize <-chan backend.TermSize
	// Enter runs just before the agent takes the session (a terminal goes
	// raw there, after the progress lines); it returns what undoes it.
	Enter func() (restore func())
}

// StartOptions are the parts of a start that are not in the plan.
type StartOptions struct {
	Backend   backend.Backend
	Provision provider.Provision
	Launch    backend.LaunchOptions
	Session   Session
	// MakeCA makes the bottle CA (nil: no CA, the agent trusts none).
	MakeCA CAMaker
	// Keep leaves the bottle's containers when the agent exits.
	Keep bool
	// Discard (start --rm) leaves nothing when the start ends, however it
	// ends: containers, networks, the images made for the bottle and its
	// state directory all go (Keep and stop do not hold them).
	Discard bool
	// Progress gets one line per step (nil: discarded).
	Progress io.Writer
	// Now is the clock for metadata (nil: time.Now).
	Now func() time.Time
	// Workspace is copied into the agent's /workspace before it runs
	// (nil: nothing is).
	Workspace *Workspace
	// Attest runs once the bottle is launched, beside provisioning, and
	// before the agent's command; an error refuses to hand the bottle over
	// (nil: none, for tests).
	Attest func(context.Context, backend.Bottle) error
	// AttestEarly is the two-half form start uses (attest.Begin): it is
	// called as soon as the backend reports the agent's container running
	// (LaunchOptions.AgentRunning), maybe before the sidecar is ready, or
	// once the launch ends when the backend never reports it, and returns
	// what finishes it. The finish runs beside provisioning; its error
	// refuses the bottle as Attest's does, and the agent's command never
	// runs before it returned nil. It replaces Attest.
	AttestEarly func(context.Context, backend.Bottle) (finish func(context.Context) error)
	// Timings, when set, gets the phase breakdown when the start ends
	// (start --timings).
	Timings io.Writer
}

// Start prepares the bottle's state, launches it, provisions the agent,
// runs the agent's command on the session and, unless Keep or a "stop"
// ended it, removes the containers when it exits. It returns the command's exit code. A failure
// before the command names its step; the backend has already removed what
// it made.
func Start(ctx context.Context, p *plan.Bottle, o StartOptions) (int, error) {
	var progress io.Writer = io.Discard
	if o.Progress != nil {
		// The sidecar's, the agent's and the attestation's steps run side
		// by side.
		progress = &lockedWriter{w: o.Progress}
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	var tm *Timings
	if o.Timings != nil {
		tm = NewTimings(nil)
		defer func() { tm.Write(o.Timings) }()
	}
	if o.Discard {
		// However the start ends, from here on: nothing stays.
		defer Discard(context.WithoutCancel(ctx), o.Backend, p.Slug, p.StateDir, progress)
	}
	if err := plan.ApplyProvision(p, o.Provision); err != nil { // a no-op when the caller applied it already
		return -1, err
	}
	end := tm.Begin(PhaseState)
	err := prepareState(p, o, now, progress)
	end()
	if err != nil {
		return -1, err
	}

	lo := o.Launch
	lo.Progress = progress
	lo.Timer = tm.timer()
	if lo.AgentDockerfile == "" && o.Provision.Dockerfile != "" {
		lo.AgentDockerfile, lo.AgentContext = o.Provision.Dockerfile, o.Provision.Context
	}
	end = tm.Begin(PhaseCapabilities)
	lo.AgentImage, err = applyCapabilities(ctx, o.Backend, p, lo, progress, o.Session.Stderr)
	end()
	if err != nil {
		return -1, err
	}
	seal := &sealCheck{early: o.AttestEarly, whole: o.Attest, tm: tm, progress: progress}
	if seal.early != nil {
		seal.whole = nil
	}
	lo.AgentRunning = seal.agentRunning(ctx)
	end = tm.Begin(PhaseLaunch)
	b, err := o.Backend.Launch(ctx, *p, lo)
	end()
	if err != nil {
		seal.abandon(ctx)
		return -1, err
	}
	running := false // a failure before the agent runs removes even a kept bottle
	defer func() {
		if o.Discard {
			return // Start's first defer removes everything
		}
		if o.Keep && running {
			return
		}
		if running && wasStopped(p.StateDir) {
			fmt.Fprintf(progress, "• bottle %s was stopped; its containers stay for \"bot-bottle commit %s\" (state in %s)\n", p.Slug, p.Slug, p.StateDir)
			return
		}
		if running && (o.Workspace != nil || o.Launch.AgentImage != "") {
			saveWorkspace(context.WithoutCancel(ctx), o.Backend, p.Slug, p.StateDir, progress, o.Session.Stderr)
		}
		fmt.Fprintf(progress, "• removing bottle %s (state kept in %s)\n", p.Slug, p.StateDir)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := o.Backend.Remove(cctx, p.Slug); err != nil {
			fmt.Fprintf(progress, "bot-bottle: %v\n", err)
		}
	}()
	// The attestation runs beside provisioning (or began already, when the
	// agent's container came up); the command waits for its verdict.
	seal.begin(ctx, b)
	// Recorded only once the bottle is up: a launch that failed (a base
	// image seeded, then a second try) is no run to compare the next with.
	setupErr := noteRun(p, progress)
	if setupErr == nil {
		setupErr = provision(ctx, o.Backend, b, o.Provision, o.Session.Stderr, progress, tm)
	}
	if setupErr == nil && o.Workspace != nil {
		end = tm.Begin(PhaseWorkspace)
		setupErr = copyWorkspace(ctx, o.Backend, b, p.StateDir, o.Workspace, progress)
		end()
	}
	// A refusal outranks a failed setup: it is what the user must see.
	if err := seal.verdict(ctx); err != nil {
		return -1, err
	}
	if setupErr != nil {
		return -1, setupErr
	}
	fmt.Fprintf(progress, "• running %s in bottle %s\n", o.Provision.Template, p.Slug)
	running = true
	if o.Session.Enter != nil {
		defer o.Session.Enter()()
	}
	end = tm.Begin(PhaseCommand)
	defer end()
	code, err := o.Backend.Exec(ctx, p.Slug, backend.ExecSpec{
		Cmd:     o.Provision.Command,
		WorkDir: provider.AgentWorkdir,
		TTY:     o.Session.TTY,
		Stdin:   o.Session.Stdin,
		Stdout:  tm.firstOutput(o.Session.Stdout, end),
		Stderr:  tm.firstOutput(o.Session.Stderr, end),
		Resize:  o.Session.Resize,
	})
	if err != nil {
		return -1, fmt.Errorf("running the agent: %w", err)
	}
	return code, nil
}

// prepareState writes the bottle's state from its plan and its metadata
// (a resume keeps the bottle's birth), forgetting an earlier stop.
func prepareState(p *plan.Bottle, o StartOptions, now func() time.Time, progress io.Writer) error {
	fmt.Fprintf(progress, "• preparing state in %s\n", p.StateDir)
	if err := Prepare(p, o.MakeCA); err != nil {
		return err
	}
	if err := clearStopped(p.StateDir); err != nil {
		return err
	}
	meta := Metadata{
		Slug: p.Slug, Agent: p.Agent.Name, Bottles: p.Bottles, Backend: o.Backend.Name(),
		Label: p.Label, Color: p.Color, Image: o.Launch.AgentImage, Created: now().UTC(),
	}
	if old, err := ReadMetadata(p.StateDir); err == nil {
		meta.Created = old.Created
	}
	return WriteMetadata(p.StateDir, meta)
}

// provision copies the provider's files and skills into the agent and runs
// its setup steps (a failing step is a warning: the agent still starts).
func provision(ctx context.Context, be backend.Backend, b backend.Bottle, prov provider.Provision, warn, progress io.Writer, tm *Timings) error {
	if warn == nil {
		warn = io.Discard
	}
	for _, w := range prov.Warnings {
		fmt.Fprintf(warn, "bot-bottle: warning: %s\n", w)
	}
	if len(prov.Files) > 0 || len(prov.Skills) > 0 {
		fmt.Fprintln(progress, "• copying files and skills into the agent")
		end := tm.Begin(PhaseFiles)
		defer end()
		tb := newTarball(b.AgentUID, b.AgentGID)
		for _, f := range prov.Files {
			mode := fs.FileMode(f.Mode)
			if mode == 0 {
				mode = 0o644
			}
			tb.file(f.Path, []byte(f.Content), mode)
		}
		for _, sk := range prov.Skills {
			if err := tb.tree(sk.Source, sk.Target); err != nil {
				return fmt.Errorf("copying skill %s: %w", sk.Name, err)
			}
		}
		data, err := tb.bytes()
		if err != nil {
			return err
		}
		if err := be.CopyInto(ctx, b.Slug, "/", bytes.NewReader(data)); err != nil {
			return fmt.Errorf("copying files into the agent: %w", err)
		}
		end()
	}
	for _, st := range prov.Setup {
		fmt.Fprintf(progress, "• %s\n", st.What)
		end := tm.Begin(st.What)
		var out bytes.Buffer
		code, err := be.Exec(ctx, b.Slug, backend.ExecSpec{Cmd: st.Argv, Stdout: &out, Stderr: &out})
		end()
		if err != nil || code != 0 {
			fmt.Fprintf(warn, "bot-bottle: warning: %s failed (exit %d, %v): %s\n", st.What, code, err, strings.TrimSpace(out.String()))
		}
	}
	return nil
}

// tarball collects files for the agent, owned by its user, with every
// parent directory made (owned by the user too) under the agent's home.
type tarball struct {
	uid, gid int
	buf      bytes.Buffer
	tw       *tar.Writer
	dirs     map[string]bool
}

func newTarball(uid, gid int) *tarball {
	t := &tarball{uid: uid, gid: gid, dirs: map[string]bool{"/": true}}
	t.tw = tar.NewWriter(&t.buf)
	return t
}

func (t *tarball) dir(p string) {
	p = path.Clean(p)
	if t.dirs[p] {
		return
	}
	t.dir(path.Dir(p))
	t.dirs[p] = true
	// Directories above the agent's home belong to root; tar entries for
	// them would chown /home or /etc.
	if !strings.HasPrefix(p+"/", provider.AgentHome+"/") && p != provider.AgentHome {
		return
	}
	t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(p, "/") + "/", Mode: 0o755, Uid: t.uid, Gid: t.gid, ModTime: time.Now()})
}

func (t *tarball) file(p string, data []byte, mode fs.FileMode) {
	t.dir(path.Dir(p))
	t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(path.Clean(p), "/"), Mode: int64(mode.Perm()), Size: int64(len(data)), Uid: t.uid, Gid: t.gid, ModTime: time.Now()})
	t.tw.Write(data)
}

// tree adds the host folder src as target. ResolveSkills has checked it
// holds only plain files and folders.
func (t *tarball) tree(src, target string) error {
	return filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		dst := path.Join(target, filepath.ToSlash(rel))
		if e.IsDir() {
			t.dir(dst)
			return nil
		}
		if !e.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		t.file(dst, data, info.Mode())
		return nil
	})
}

func (t *tarball) bytes() ([]byte, error) {
	if err := t.tw.Close(); err != nil {
		return nil, err
	}
	return t.buf.Bytes(), nil
}
