package cli

import (
	"errors"
	"fmt"
)

// Exit codes shared by every command (DESIGN.md, Conventions).
const (
	// ExitOK is success, or "allowed".
	ExitOK = 0
	// ExitFound is a problem the command exists to find: an invalid
	// manifest, a refused request, a failed check.
	ExitFound = 1
	// ExitError is bad usage or an error that stopped the command.
	ExitError = 2
)

// exitError carries an exit code out of a command. Commands return it; only
// Run turns it into a number for main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// found wraps err as "the command found a problem" (exit 1). A nil err still
// exits 1, silently: the command has already printed what it found.
func found(err error) error { return &exitError{code: ExitFound, err: err} }

// usageError marks err as bad usage (exit 2).
func usageError(err error) error { return &exitError{code: ExitError, err: err} }

// exitCode maps an error returned by a command to its exit code.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return ExitError
}
