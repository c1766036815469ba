package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/charmbracelet/x/term"

	"github.com/bot-bottle/bot-bottle/internal/backend"
	"github.com/bot-bottle/bot-bottle/internal/lifecycle"
)

// session is how the agent meets the user: on the terminal (raw, so
// Ctrl-C and every key go to the agent, resized with the window) when
// stdin and stdout are terminals and the start is interactive; else on
// plain pipes.
func session(env Env, interactive bool) lifecycle.Session {
	s := lifecycle.Session{Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr}
	if !interactive || !onTerminal(env) {
		if !interactive {
			s.Stdin = nil // headless: the prompt is in the command
		}
		return s
	}
	in, out := env.Stdin.(*os.File), env.Stdout.(*os.File)
	s.TTY = true
	resize := make(chan backend.TermSize, 1)
	s.Resize = resize
	s.Enter = func() func() {
		state, err := term.MakeRaw(in.Fd())
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		send := func() {
			if w, h, err := term.GetSize(out.Fd()); err == nil {
				select {
				case resize <- backend.TermSize{Rows: uint(h), Cols: uint(w)}:
				default:
				}
			}
		}
		send()
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-winch:
					send()
				case <-done:
					return
				}
			}
		}()
		return func() {
			signal.Stop(winch)
			close(done)
			if err == nil {
				term.Restore(in.Fd(), state)
			}
		}
	}
	return s
}

// onTerminal: stdin and stdout are both terminals.
func onTerminal(env Env) bool {
	in, inOK := env.Stdin.(*os.File)
	out, outOK := env.Stdout.(*os.File)
	return inOK && outOK && term.IsTerminal(in.Fd()) && term.IsTerminal(out.Fd())
}
