// Package exitcode carries a process exit code inside an error, so that a
// binary's run function can return errors and its main can still exit with the
// documented code for each kind of failure.
package exitcode

import "errors"

// Error wraps Err with the exit code the process should end with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Wrap returns err carrying code; it returns nil when err is nil.
func Wrap(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Code returns the exit code for err: 0 for nil, the code of the outermost
// *Error in its chain, and fallback for any other error.
func Code(err error, fallback int) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return fallback
}
