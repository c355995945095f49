package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/connops/connops/internal/connections"
)

// SQLSTATE codes we act on. Matching codes, never message text, keeps the
// mapping stable across server versions and locales.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// domainError turns driver errors that mean something to the domain into its
// sentinels, keeping the original in the chain for logs.
func domainError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return errors.Join(connections.ErrNotFound, err)
	}
	if isUnavailable(err) {
		return errors.Join(connections.ErrUnavailable, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case uniqueViolation:
			return errors.Join(connections.ErrAlreadyExists, err)
		case foreignKeyViolation:
			// The parent connection vanished between our check and the insert.
			return errors.Join(connections.ErrNotFound, err)
		}
	}
	return err
}

// isUnavailable reports failures of reaching the database rather than of the
// statement: a refused or dropped connection, a server shutting down, or a
// deadline hit while waiting.
func isUnavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	// A cancelled context means the caller is gone; answering 503 keeps it
	// out of the error log, where it would look like a bug.
	if errors.As(err, &connectErr) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 is connection exceptions; 57P01-57P03 are admin/crash shutdown
		// and "cannot connect now" while the server starts. 40001 and 40P01
		// (serialization failure, deadlock, as a connection delete racing
		// creates on it can cause) rolled the statement back: retrying is safe.
		// 55P03 is a lock_timeout (a group waiting on a connection a delete
		// holds) and 57014 a statement_timeout: both ran out of time, and a
		// retry later may well succeed.
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", "40001", "40P01", "55P03", "57014":
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08")
	}
	// An I/O failure on a connection that was already open surfaces as a plain
	// error; pgx closes such a connection, and the statement may or may not have
	// run, so it is reported as unavailable rather than as a bug.
	// pgconn.ErrConnClosed: pgx had already closed the connection (its socket
	// failed earlier) when this statement tried to use it; nothing was sent.
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, pgconn.ErrConnClosed)
}
