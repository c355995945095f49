package connections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Outcome is how a service-started operation ends: completed, or failed
// with an error.
type Outcome struct {
	Status Status
	Error  *PublicError
}

// Validate checks an outcome.
func (o Outcome) Validate() error {
	if o.Status != StatusCompleted && o.Status != StatusFailed {
		return invalidField("status", "must be completed or failed to finish an operation connops started")
	}
	if o.Error != nil {
		return o.Error.validate("error")
	}
	return nil
}

// defaultFailure is the error of a failed registration when whoever failed
// it gave none.
var defaultFailure = PublicError{Code: "ProvisioningFailed", Message: "The schema registration failed."}

// RegisterSchema submits a schema for a connection: it validates it (and,
// against the active schema, the update rules), then records the schema
// version, the operation that tracks it and the work that will finish it,
// in one transaction. The operation is in progress when this returns; it
// completes after the provisioning delay (never by itself in manual mode).
func (s *Service) RegisterSchema(ctx context.Context, caller Caller, connectionID string, schema Schema) (Operation, error) {
	scope, err := caller.writeScope()
	if err != nil {
		return Operation{}, err
	}
	if err := schema.Validate(); err != nil {
		return Operation{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Operation{}, fmt.Errorf("generate operation id: %w", err)
	}
	op := Operation{ConnectionID: connectionID, ID: id.String(), Kind: KindSchema, Status: StatusInProgress}
	var due *time.Duration
	if !s.opts.ManualProvisioning {
		due = &s.opts.ProvisioningDelay
	}
	created, err := s.store.RegisterSchema(ctx, scope, connectionID, schema, op, due, s.opts.MaxOperationsPerConnection,
		func(active *Schema, running string) error {
			if running != "" {
				return &Error{Kind: ErrConflict, Target: "operationId", Message: fmt.Sprintf(
					"A schema registration is already running on connection '%s' (operation '%s'); wait until it finishes.",
					truncate(connectionID, 64), running)}
			}
			if active != nil {
				return schema.ValidateUpdate(*active)
			}
			return nil
		})
	switch {
	case errors.Is(err, ErrLimitExceeded):
		return Operation{}, describe(ErrLimitExceeded, err,
			"The connection '%s' already holds the maximum of %d operations; delete some, or let retention remove finished ones.",
			truncate(connectionID, 64), s.opts.MaxOperationsPerConnection)
	case err != nil:
		return Operation{}, connectionError(err, connectionID)
	}
	if s.opts.WorkAdded != nil {
		s.opts.WorkAdded()
	}
	return created, nil
}

// GetSchema returns the schema most recently submitted for a connection:
// the one still being registered if there is one, else the active one.
func (s *Service) GetSchema(ctx context.Context, caller Caller, connectionID string) (SchemaVersion, error) {
	scope, err := caller.readScope()
	if err != nil {
		return SchemaVersion{}, err
	}
	v, found, err := s.store.GetSchema(ctx, scope, connectionID)
	if err != nil {
		return SchemaVersion{}, connectionError(err, connectionID)
	}
	if !found {
		return SchemaVersion{}, describe(ErrNotFound, nil, "The connection '%s' has no schema yet; register one with PATCH .../schema.", truncate(connectionID, 64))
	}
	return v, nil
}

// finishByControl lets a caller with the control role end an operation
// connops started, with exactly the consequences the engine's own finish
// has.
func (s *Service) finishByControl(ctx context.Context, caller Caller, op Operation, p OperationPatch, pre *Precondition) (Operation, error) {
	if !caller.has(PermOperationsControl) {
		return Operation{}, &Error{Kind: ErrForbidden, Message: "connops started this operation for a schema registration and finishes it itself; " +
			"only an application with the " + PermOperationsControl + " role may complete or fail it."}
	}
	outcome := Outcome{Status: p.Status, Error: p.Error}
	if err := outcome.Validate(); err != nil {
		return Operation{}, err
	}
	if outcome.Status == StatusFailed && outcome.Error == nil {
		e := defaultFailure
		outcome.Error = &e
	}
	if outcome.Status == StatusCompleted {
		outcome.Error = nil
	}
	finished, err := s.store.FinishOperation(ctx, Scope{TenantID: caller.TenantID}, op.ConnectionID, op.ID, outcome, func(current Operation) error {
		if err := pre.check(current.Version); err != nil {
			return err
		}
		if current.Status.final() {
			return &Error{Kind: ErrConflict, Target: "status", Message: fmt.Sprintf(
				"The operation is %s, which is final; its status cannot change to %s.", current.Status, outcome.Status)}
		}
		return nil
	})
	if err != nil {
		return Operation{}, operationError(err, op.ConnectionID, op.ID)
	}
	return finished, nil
}
