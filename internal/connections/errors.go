package connections

import (
	"errors"
	"fmt"
)

// Kinds of failure. The HTTP layer maps each to one status code; stores return
// ErrNotFound and ErrAlreadyExists (wrapped) and the service turns them into *Error
// values with a message fit for the caller.
var (
	ErrInvalid  = errors.New("invalid request")
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: the id is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the change conflicts with the resource's state.
	ErrConflict = errors.New("conflict")
	// ErrUnprocessable: an Idempotency-Key reused with a different request.
	ErrUnprocessable = errors.New("unprocessable")
	// ErrLimitExceeded: a per-tenant quota is used up.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrPreconditionFailed: an If-Match precondition does not hold.
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrForbidden          = errors.New("forbidden")
	// ErrUnavailable means the database could not be reached or answered too
	// late; the caller may retry.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// Error is a failure the caller may read: Message is written for them and never
// carries internal detail. Target names the offending property, if any.
type Error struct {
	Kind    error
	Message string
	Target  string
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Kind }

// invalid reports a bad property value.
func invalid(target, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Target: target, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return &Error{Kind: ErrNotFound, Message: fmt.Sprintf(format, args...)}
}

func alreadyExists(format string, args ...any) *Error {
	return &Error{Kind: ErrAlreadyExists, Message: fmt.Sprintf(format, args...)}
}
