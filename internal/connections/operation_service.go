package connections

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// CreateOperation records a new operation on a connection. replayed reports
// an answer recorded for an earlier request with the same key.
func (s *Service) CreateOperation(ctx context.Context, caller Caller, connectionID string, n NewOperation, key *IdempotencyKey) (Operation, bool, error) {
	scope, err := caller.writeScope()
	if err != nil {
		return Operation{}, false, err
	}
	if err := n.Validate(); err != nil {
		return Operation{}, false, err
	}
	idem, err := s.idempotency(caller, key)
	if err != nil {
		return Operation{}, false, err
	}
	op := Operation{ConnectionID: connectionID, ID: n.ID, Kind: KindClient, Status: n.Status, Error: n.Error}
	if op.ID == "" {
		// Version 7 ids grow with time, so new rows land at the right edge of
		// the primary key index instead of on random pages.
		id, err := uuid.NewV7()
		if err != nil {
			return Operation{}, false, fmt.Errorf("generate operation id: %w", err)
		}
		op.ID = id.String()
	}
	if op.Status == "" {
		op.Status = StatusUnspecified
	}
	created, replayed, err := s.store.CreateOperation(ctx, scope, op, s.opts.MaxOperationsPerConnection, idem)
	switch {
	case errors.Is(err, ErrAlreadyExists):
		return Operation{}, false, describe(ErrAlreadyExists, err,
			"An operation with the id '%s' already exists on connection '%s'.", op.ID, truncate(connectionID, 64))
	case errors.Is(err, ErrUnprocessable):
		return Operation{}, false, idempotencyMismatch(err)
	case errors.Is(err, ErrLimitExceeded):
		return Operation{}, false, describe(ErrLimitExceeded, err,
			"The connection '%s' already holds the maximum of %d operations; delete some, or let retention remove finished ones.",
			truncate(connectionID, 64), s.opts.MaxOperationsPerConnection)
	case err != nil:
		return Operation{}, false, connectionError(err, connectionID)
	}
	return created, replayed, nil
}

// GetOperation returns one operation of a connection; fields are the
// properties selected (all when empty).
func (s *Service) GetOperation(ctx context.Context, caller Caller, connectionID, id string, fields []string) (Operation, error) {
	scope, err := caller.readScope()
	if err != nil {
		return Operation{}, err
	}
	if err := validateFields(fields, operationFields); err != nil {
		return Operation{}, err
	}
	op, err := s.store.GetOperation(ctx, scope, connectionID, id)
	if err != nil {
		return Operation{}, operationError(err, connectionID, id)
	}
	return op, nil
}

// ListOperations returns one page of a connection's operations.
func (s *Service) ListOperations(ctx context.Context, caller Caller, connectionID string, q ListQuery) (Page[Operation], error) {
	scope, err := caller.readScope()
	if err != nil {
		return Page[Operation]{}, err
	}
	if err := ValidateOperationQuery(&q); err != nil {
		return Page[Operation]{}, err
	}
	page, err := s.store.ListOperations(ctx, scope, connectionID, q)
	if err != nil {
		return Page[Operation]{}, connectionError(err, connectionID)
	}
	return page, nil
}

// CountOperations counts a connection's operations that match f.
func (s *Service) CountOperations(ctx context.Context, caller Caller, connectionID string, f Filter) (int64, error) {
	scope, err := caller.readScope()
	if err != nil {
		return 0, err
	}
	if f != nil {
		terms := 0
		if err := validateFilter(f, &terms); err != nil {
			return 0, err
		}
	}
	n, err := s.store.CountOperations(ctx, scope, connectionID, f)
	if err != nil {
		return 0, connectionError(err, connectionID)
	}
	return n, nil
}

// OperationPatch is a PATCH of an operation. An empty Status leaves the
// status alone (a decoder maps Graph's evolvable-enum sentinel in a PATCH to
// that); SetError replaces the error (with nil to clear it).
type OperationPatch struct {
	Status   Status
	SetError bool
	Error    *PublicError
}

// Validate checks the patch's values.
func (p OperationPatch) Validate() error {
	if p.Status != "" {
		if err := validateStoredStatus(p.Status); err != nil {
			return err
		}
	}
	if p.SetError && p.Error != nil {
		return p.Error.validate("error")
	}
	return nil
}

// final statuses end an operation: nothing moves out of them.
func (s Status) final() bool { return s == StatusCompleted || s == StatusFailed }

// UpdateOperation applies a patch under the status state machine: any status
// may move to any other until it is completed or failed, which are final.
// An operation connops started (a schema registration) only a caller with
// the control role may finish, and then as the engine would (finishByControl).
func (s *Service) UpdateOperation(ctx context.Context, caller Caller, connectionID, id string, p OperationPatch, pre *Precondition) (Operation, error) {
	scope, scopeErr := caller.writeScope()
	if scopeErr != nil && !caller.has(PermOperationsControl) {
		return Operation{}, scopeErr
	}
	if err := p.Validate(); err != nil {
		return Operation{}, err
	}
	if scopeErr != nil {
		scope = Scope{TenantID: caller.TenantID}
	}
	current, err := s.store.GetOperation(ctx, scope, connectionID, id)
	if err != nil {
		return Operation{}, operationError(err, connectionID, id)
	}
	if current.Kind == KindSchema {
		return s.finishByControl(ctx, caller, current, p, pre)
	}
	if scopeErr != nil {
		return Operation{}, scopeErr
	}
	op, err := s.store.UpdateOperation(ctx, scope, connectionID, id, func(op *Operation) error {
		if err := pre.check(op.Version); err != nil {
			return err
		}
		if p.Status != "" && op.Status.final() && p.Status != op.Status {
			return &Error{Kind: ErrConflict, Target: "status", Message: fmt.Sprintf(
				"The operation is %s, which is final; its status cannot change to %s.", op.Status, p.Status)}
		}
		if p.Status != "" {
			op.Status = p.Status
		}
		if p.SetError {
			op.Error = p.Error
		}
		return nil
	})
	if err != nil {
		return Operation{}, operationError(err, connectionID, id)
	}
	return op, nil
}

// DeleteOperation deletes one operation a client created. Operations connops
// started go with their connection, or with retention once finished.
func (s *Service) DeleteOperation(ctx context.Context, caller Caller, connectionID, id string) error {
	scope, err := caller.writeScope()
	if err != nil {
		return err
	}
	current, err := s.store.GetOperation(ctx, scope, connectionID, id)
	if err != nil {
		return operationError(err, connectionID, id)
	}
	if current.Kind == KindSchema {
		return &Error{Kind: ErrForbidden, Message: "connops started this operation for a schema registration; it cannot be deleted. " +
			"Deleting the connection takes its operations with it."}
	}
	if err := s.store.DeleteOperation(ctx, scope, connectionID, id); err != nil {
		return operationError(err, connectionID, id)
	}
	return nil
}

// operationError words a store failure about one operation.
func operationError(err error, connectionID, id string) error {
	if errors.Is(err, ErrNotFound) {
		return describe(ErrNotFound, err, "The operation '%s' does not exist on connection '%s'.", truncate(id, 128), truncate(connectionID, 64))
	}
	return err
}
