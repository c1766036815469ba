package cli

import (
	"io"
	"log/slog"
	"os"
)

// Env is everything a command may take from the process: streams, the
// environment and the directories it works from. Tests build their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads one environment variable.
	Getenv func(string) string
	// Environ lists the environment as KEY=VALUE pairs.
	Environ func() []string
	// Home is the user's home directory ("" when unknown).
	Home string
	// Cwd is the working directory.
	Cwd string
	// seed seeds a missing base image (nil: a start with no base image
	// fails saying so; OSEnv runs the embedded seed-base-image.sh).
	seed seeder
}

// OSEnv is the Env of the running process.
func OSEnv() Env {
	home, _ := os.UserHomeDir()
	cwd, _ := os.Getwd()
	return Env{
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Getenv:  os.Getenv,
		Environ: os.Environ,
		Home:    home,
		Cwd:     cwd,
		seed:    scriptSeeder(),
	}
}

// logger returns a JSON logger on stderr for daemons.
func (e Env) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(e.Stderr, nil))
}
