package connections

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kinds of failure. The HTTP layer keeps one table from kind to status and
// Graph error code and matches it with errors.Is, so a bare kind, a kind
// wrapped with %w by a store, and an *Error all land in the same row.
var (
	ErrInvalid  = errors.New("invalid request")
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: the id is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the change conflicts with the resource's state.
	ErrConflict = errors.New("conflict")
	// ErrUnprocessable: an Idempotency-Key reused with a different request.
	ErrUnprocessable = errors.New("unprocessable")
	// ErrLimitExceeded: a per-tenant or per-connection quota is used up.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrQuotaExceeded: the connection holds its maximum of items (Graph's
	// quotaLimitReached).
	ErrQuotaExceeded = errors.New("quota exceeded")
	// ErrSchemaChanged: the connection's active schema is not the one an
	// item was checked against; check it again.
	ErrSchemaChanged = errors.New("schema changed")
	// ErrPreconditionFailed: an If-Match precondition does not hold.
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrForbidden          = errors.New("forbidden")
	// ErrGone: a stream asked to resume from a change the log no longer
	// holds the changes after.
	ErrGone = errors.New("gone")
	// ErrUnavailable means the database could not be reached or answered too
	// late; the caller may retry.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// Error is a failure worded for the caller: Message never carries internal
// detail, Target names what the message is about (a property, a query
// option, a header) when there is one. Err, if set, is the cause, kept for
// logs.
type Error struct {
	Kind    error
	Message string
	Target  string
	Err     error
}

func (e *Error) Error() string { return e.Message }

// Unwrap exposes both the kind, for the error table, and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// FieldError is a property value that breaks a rule. Field is the property's
// path in the domain's names (error.details[2].code); Reason completes the
// sentence "Property '<field>' <reason>." The HTTP layer words the message
// in the names of the representation the client sent, which may differ.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "Property '" + e.Field + "' " + e.Reason + "." }

// Unwrap makes every FieldError an ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// invalidField reports a bad property value.
func invalidField(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// invalid reports a bad request that is not about one property, such as a
// query option or a header; target names it.
func invalid(target, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Target: target, Message: fmt.Sprintf(format, args...)}
}

// describe gives a store's failure of the given kind a message for the
// caller, keeping the store's error as the cause.
func describe(kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: cause}
}

// checkText refuses strings PostgreSQL cannot store as text: NUL characters
// and bytes that are not UTF-8. Without it such a value fails deep in the
// database, and a grouped write would fail its neighbours' rows with it.
func checkText(field, value string) error {
	if !utf8.ValidString(value) {
		return invalidField(field, "is not valid UTF-8")
	}
	if strings.ContainsRune(value, 0) {
		return invalidField(field, "contains a NUL character")
	}
	return nil
}

// checkLen checks a string's text and its length in characters.
func checkLen(field, value string, limit int) error {
	if err := checkText(field, value); err != nil {
		return err
	}
	if utf8.RuneCountInString(value) > limit {
		return invalidField(field, "is longer than %d characters", limit)
	}
	return nil
}

// truncate keeps echoed caller input short in messages.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "?")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "..."
}
