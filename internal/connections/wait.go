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
	// Blocking, when set, is called once, on the waiting goroutine, when
	// the first read shows the wait must wait; the wait goes on when it
	// returns. The HTTP layer uses it to decide where an answer that is
	// not ready at once will be written.
	Blocking func()
	// Stop, when closed, ends the wait as its time running out would: the
	// answer is the operation as last read. A read under way finishes
	// first, so a wait stopped early still answers the operation.
	Stop <-chan struct{}
}

// stopped reports whether w.Stop is closed.
func (w WaitCondition) stopped() bool {
	select {
	case <-w.Stop:
		return true
	default:
		return false
	}
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
	watch, err := s.opts.Changes.Watch(ctx, ChangeKey{TenantID: scope.TenantID, ConnectionID: connectionID, OperationID: id})
	if err != nil {
		return Operation{}, err
	}
	defer watch.Stop()
	ow := &operationWait{svc: s, scope: scope, connectionID: connectionID, id: id, cond: w, changed: watch.C}
	return ow.run(ctx)
}

// operationWait is one waiting read. The loop runs in run, whose frame is
// small: a waiting request keeps its whole stack for as long as it waits,
// so what sits on it while it waits is kept lean (see onOwnStack).
type operationWait struct {
	svc              *Service
	scope            Scope
	connectionID, id string
	cond             WaitCondition
	changed          <-chan struct{}
	op               Operation
}

func (ow *operationWait) run(ctx context.Context) (Operation, error) {
	timeout := time.NewTimer(ow.cond.For)
	defer timeout.Stop()
	if err := ow.read(ctx); err != nil {
		return Operation{}, err
	}
	first := ow.op.Version
	if ow.cond.done(ow.op, first) || ow.cond.stopped() {
		return ow.op, nil
	}
	if ow.cond.Blocking != nil {
		ow.cond.Blocking()
	}
	for !ow.cond.done(ow.op, first) {
		select {
		case <-ow.changed:
		case <-timeout.C:
			return ow.op, nil
		case <-ow.cond.Stop:
			return ow.op, nil
		case <-ctx.Done():
			return ow.op, ctx.Err()
		}
		if err := ow.read(ctx); err != nil {
			return Operation{}, err
		}
	}
	return ow.op, nil
}

// read reads the operation into ow.op, on a goroutine of its own.
func (ow *operationWait) read(ctx context.Context) error {
	err := onOwnStack(func() error {
		return ow.svc.boundedRead(ctx, ow.scope.TenantID, func(ctx context.Context) error {
			op, err := ow.svc.store.GetOperation(ctx, ow.scope, ow.connectionID, ow.id)
			ow.op = op
			return err
		})
	})
	if err != nil {
		return operationError(err, ow.connectionID, ow.id)
	}
	return nil
}

// onOwnStack runs f on a goroutine of its own and waits for it. A waiting
// request's goroutine keeps, for as long as it waits, the largest stack it
// ever needed, and the database driver's calls are the deepest of a
// request: run on the request's goroutine they would double what every
// waiter holds (measured: 10,000 waiters held 185 MB of stacks).
func onOwnStack(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return <-done
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
