package connections

import (
	"context"
	"slices"
	"time"
)

// WaitCondition is what a waiting read of an operation waits for.
type WaitCondition struct {
	// For is the longest the read may wait; 0 answers at once.
	For time.Duration
	// NoneMatch are the versions (ETags) the caller already holds: the wait
	// ends once the operation's version is none of them. Empty, it ends
	// once the version differs from the one first read.
	NoneMatch []int64
}

// done reports whether op is worth answering now: it is final (it will
// never change again), or it differs from what the caller holds.
func (w WaitCondition) done(op Operation, first int64) bool {
	if op.Status.final() {
		return true
	}
	if len(w.NoneMatch) > 0 {
		return !slices.Contains(w.NoneMatch, op.Version)
	}
	return op.Version != first
}

// WaitOperation reads one operation, and unless it is final or already
// differs from what the caller holds, waits up to w.For for a change to it
// to commit, on this replica or any other, then answers the operation as it
// is. The watch is registered before the first read, so a change
// committed at any moment after the call begins is seen. While it waits the
// call holds no database connection and no tenant slot.
//
// Without a wait it is GetOperation, in the request's own tenant slot and
// deadline; a wait's reads take theirs one at a time (boundedRead).
func (s *Service) WaitOperation(ctx context.Context, caller Caller, connectionID, id string, fields []string, w WaitCondition) (Operation, error) {
	if w.For <= 0 || s.opts.Changes == nil {
		return s.GetOperation(ctx, caller, connectionID, id, fields)
	}
	scope, err := caller.readScope()
	if err != nil {
		return Operation{}, err
	}
	if err := validateFields(fields, operationFields); err != nil {
		return Operation{}, err
	}
	read := func() (Operation, error) {
		var op Operation
		err := s.boundedRead(ctx, scope.TenantID, func(ctx context.Context) error {
			var err error
			op, err = s.store.GetOperation(ctx, scope, connectionID, id)
			return err
		})
		if err != nil {
			return Operation{}, operationError(err, connectionID, id)
		}
		return op, nil
	}
	watch, err := s.opts.Changes.Watch(ctx, ChangeKey{TenantID: scope.TenantID, ConnectionID: connectionID, OperationID: id})
	if err != nil {
		return Operation{}, err
	}
	defer watch.Stop()
	timeout := time.NewTimer(w.For)
	defer timeout.Stop()
	op, err := read()
	if err != nil {
		return Operation{}, err
	}
	first := op.Version
	for !w.done(op, first) {
		select {
		case <-watch.C:
		case <-timeout.C:
			return op, nil
		case <-ctx.Done():
			return op, ctx.Err()
		}
		if op, err = read(); err != nil {
			return Operation{}, err
		}
	}
	return op, nil
}

// boundedRead runs one read of a wait or a stream in a tenant slot and
// within the read timeout: the request around it has neither.
func (s *Service) boundedRead(ctx context.Context, tenantID string, read func(context.Context) error) error {
	if s.opts.Admit != nil {
		release, err := s.opts.Admit(ctx, tenantID)
		if err != nil {
			return err
		}
		defer release()
	}
	if s.opts.ReadTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.ReadTimeout)
		defer cancel()
	}
	return read(ctx)
}
