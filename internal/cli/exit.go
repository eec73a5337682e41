package cli

import (
	"context"
	"errors"
	"io/fs"
)

// Exit codes, decided in one place.
const (
	ExitOK           = 0   // success
	ExitFailure      = 1   // the work ran and failed (checks failed, a stage failed)
	ExitUsage        = 2   // bad flags or arguments
	ExitInvalidInput = 3   // an input file is missing or invalid (whichever engine read it)
	ExitInterrupted  = 130 // interrupted (Ctrl-C)
)

// UsageError wraps an error in the command line itself (flags, arguments).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// usagef returns a *UsageError with a formatted message.
func usagef(format string, args ...any) error {
	return &UsageError{Err: errorf(format, args...)}
}

// invalidInput is implemented by library errors that mean "this input file is
// invalid" (gguf.FormatError, safetensors header errors, dataset errors, ...).
// Libraries declare it with a method so that this package need not import them.
type invalidInput interface{ InvalidInput() bool }

// silentError is an error whose message was already written to the user
// (for example a failed check with its report on stdout); only its code counts.
type silentError struct{ code int }

func (e *silentError) Error() string { return "exit status" }

// ExitWith returns an error that makes Main exit with code without printing.
func ExitWith(code int) error {
	if code == 0 {
		return nil
	}
	return &silentError{code: code}
}

func isSilent(err error) bool {
	var s *silentError
	return errors.As(err, &s)
}

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var s *silentError
	if errors.As(err, &s) {
		return s.code
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	var u *UsageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	var ii invalidInput
	if errors.As(err, &ii) && ii.InvalidInput() {
		return ExitInvalidInput
	}
	// A file the command was given (or the project names) does not exist.
	if errors.Is(err, fs.ErrNotExist) {
		return ExitInvalidInput
	}
	return ExitFailure
}
