package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/utils/exec"

	"github.com/bot-bottle/bot-bottle/internal/backend"
)

// Exec runs spec in the agent container.
func (k *Kubernetes) Exec(ctx context.Context, slug string, spec backend.ExecSpec) (int, error) {
	if k.opts.Exec == nil {
		return -1, errors.New("kubernetes: exec needs a REST config (Connect)")
	}
	if spec.User != "" || len(spec.Env) > 0 || spec.WorkDir != "" {
		spec.Cmd = wrapCmd(spec)
	}
	return k.opts.Exec(ctx, k.ns, podName(slug), agentContainer, spec)
}

// wrapCmd carries env and workdir, which the exec subresource has no
// fields for, through env(1) and a shell cd. A user other than the
// container's cannot be honoured: the agent has no way to switch users
// (no setuid, no capabilities), and that is the point.
func wrapCmd(spec backend.ExecSpec) []string {
	cmd := []string{"env"}
	cmd = append(cmd, spec.Env...)
	if spec.WorkDir != "" {
		cmd = append(cmd, "sh", "-c", `cd "$0" && exec "$@"`, spec.WorkDir)
	}
	return append(cmd, spec.Cmd...)
}

// CopyInto unpacks tarball into dir in the agent container (tar reads
// stdin, as kubectl cp does).
func (k *Kubernetes) CopyInto(ctx context.Context, slug, dir string, tarball io.Reader) error {
	code, err := k.Exec(ctx, slug, backend.ExecSpec{Cmd: []string{"tar", "-x", "-C", dir, "-f", "-"}, Stdin: tarball, Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("kubernetes: untar into %s exited %d", dir, code)
	}
	return nil
}

// RESTExecutor runs commands through the API server's exec subresource.
func RESTExecutor(cfg *rest.Config, rc rest.Interface) Executor {
	return func(ctx context.Context, ns, pod, container string, spec backend.ExecSpec) (int, error) {
		req := rc.Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
			VersionedParams(&corev1.PodExecOptions{
				Container: container, Command: spec.Cmd,
				Stdin: spec.Stdin != nil, Stdout: spec.Stdout != nil, Stderr: spec.Stderr != nil && !spec.TTY, TTY: spec.TTY,
			}, scheme.ParameterCodec)
		ex, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
		if err != nil {
			return -1, err
		}
		opts := remotecommand.StreamOptions{Stdin: spec.Stdin, Stdout: spec.Stdout, Tty: spec.TTY}
		if !spec.TTY {
			opts.Stderr = spec.Stderr
		}
		if spec.TTY && spec.Stdin != nil {
			done := make(chan struct{})
			defer close(done)
			opts.Stdin = holdOpen{r: spec.Stdin, done: done}
		}
		if spec.Resize != nil {
			opts.TerminalSizeQueue = sizeQueue(spec.Resize)
		}
		err = ex.StreamWithContext(ctx, opts)
		var ee exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitStatus(), nil
		}
		if err != nil {
			return -1, err
		}
		return 0, nil
	}
}

// holdOpen keeps a terminal's input open past its EOF until the command
// ends: containerd's shim closes the terminal when the exec's stdin
// closes, and the command's later output is lost (a terminal has no EOF
// of its own; ^D is the process's business).
type holdOpen struct {
	r    io.Reader
	done <-chan struct{}
}

func (h holdOpen) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if errors.Is(err, io.EOF) && n == 0 {
		<-h.done
	}
	return n, err
}

type sizeQueue <-chan backend.TermSize

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q
	if !ok {
		return nil
	}
	return &remotecommand.TerminalSize{Width: uint16(s.Cols), Height: uint16(s.Rows)}
}
