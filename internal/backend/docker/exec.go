package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// Exec runs spec in the agent container and returns its exit code.
func (d *Docker) Exec(ctx context.Context, slug string, spec backend.ExecSpec) (int, error) {
	id, err := d.agentID(ctx, slug)
	if err != nil {
		return -1, err
	}
	return d.execIn(ctx, id, spec)
}

func (d *Docker) execIn(ctx context.Context, id string, spec backend.ExecSpec) (int, error) {
	stdout, stderr := spec.Stdout, spec.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	created, err := d.eng.ExecCreate(ctx, id, client.ExecCreateOptions{
		Cmd: spec.Cmd, Env: spec.Env, User: spec.User, WorkingDir: spec.WorkDir, TTY: spec.TTY,
		AttachStdin: spec.Stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return -1, fmt.Errorf("exec in %.12s: %w", id, err)
	}
	att, err := d.eng.ExecAttach(ctx, created.ID, client.ExecAttachOptions{TTY: spec.TTY})
	if err != nil {
		return -1, fmt.Errorf("attaching to exec: %w", err)
	}
	defer att.Close()

	if spec.Resize != nil {
		go func() {
			for size := range spec.Resize {
				d.eng.ExecResize(context.WithoutCancel(ctx), created.ID, client.ExecResizeOptions{Height: size.Rows, Width: size.Cols})
			}
		}()
	}
	if spec.Stdin != nil {
		go func() {
			io.Copy(att.Conn, spec.Stdin)
			// On a terminal the engine drops the output once stdin is
			// half-closed (Engine 20.10): let the process end the session.
			if !spec.TTY {
				att.CloseWrite()
			}
		}()
	}
	var wg sync.WaitGroup
	var copyErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		if spec.TTY {
			_, copyErr = io.Copy(stdout, att.Reader)
		} else {
			_, copyErr = stdcopy.StdCopy(stdout, stderr, att.Reader)
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		att.Close()
		<-done
		return -1, ctx.Err()
	}
	if copyErr != nil {
		return -1, fmt.Errorf("reading exec output: %w", copyErr)
	}
	// The streams can close a moment before the engine records the exit.
	for i := 0; ; i++ {
		res, err := d.eng.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return -1, fmt.Errorf("reading exec status: %w", err)
		}
		if !res.Running || i == 200 {
			return res.ExitCode, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// CopyInto unpacks tarball into dir in the agent container.
func (d *Docker) CopyInto(ctx context.Context, slug, dir string, tarball io.Reader) error {
	id, runtime, err := d.agent(ctx, slug)
	if err != nil {
		return err
	}
	if runtime == "runsc" {
		return d.untarInside(ctx, id, slug, dir, tarball)
	}
	if _, err := d.eng.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: dir, Content: tarball}); err != nil {
		return fmt.Errorf("copying into %s:%s: %w", slug, dir, err)
	}
	return nil
}

// untarInside unpacks tarball at dir with tar run inside the agent, as
// root, keeping the archive's owners and modes. gVisor keeps its own view
// of the container's files: what the engine writes into the rootfs of a
// running runsc container behind the sandbox's back is not seen inside it
// (the probe binary ran as "exit 126").
func (d *Docker) untarInside(ctx context.Context, id, slug, dir string, tarball io.Reader) error {
	var stderr bytes.Buffer
	code, err := d.execIn(ctx, id, backend.ExecSpec{
		Cmd:    []string{"tar", "-x", "-p", "--same-owner", "--numeric-owner", "-C", dir},
		User:   "0:0",
		Stdin:  tarball,
		Stderr: &stderr,
	})
	if err == nil && code != 0 {
		err = fmt.Errorf("tar exited %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		return fmt.Errorf("copying into %s:%s: %w", slug, dir, err)
	}
	return nil
}
