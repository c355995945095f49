// Package connections holds the domain of connops: external connections, their
// operations, who may touch them, and the rules their values follow. It knows
// nothing of HTTP or SQL.
package connections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
)

// Store is the persistence the service needs. Every method is confined to the
// given scope: rows outside it do not exist for the call. Methods return
// ErrNotFound or ErrConflict (possibly wrapped) for those outcomes.
type Store interface {
	CreateConnection(ctx context.Context, scope Scope, c Connection) (Connection, error)
	GetConnection(ctx context.Context, scope Scope, id string) (Connection, error)
	ListConnections(ctx context.Context, scope Scope) ([]Connection, error)
	DeleteConnection(ctx context.Context, scope Scope, id string) error
	// CreateOperation returns ErrNotFound when the parent connection is not in
	// scope and ErrConflict when the operation id is taken.
	CreateOperation(ctx context.Context, scope Scope, op Operation) (Operation, error)
	GetOperation(ctx context.Context, scope Scope, connectionID, id string) (Operation, error)
}

// Service carries out the use cases on connections and operations.
type Service struct {
	store Store
	log   *slog.Logger
}

// NewService returns a Service over store.
func NewService(store Store, log *slog.Logger) *Service {
	return &Service{store: store, log: log}
}

// CreateConnection creates a connection owned by the calling app.
func (s *Service) CreateConnection(ctx context.Context, caller Caller, n NewConnection) (Connection, error) {
	scope, err := caller.writeScope()
	if err != nil {
		return Connection{}, err
	}
	if err := n.Validate(); err != nil {
		return Connection{}, err
	}
	c, err := s.store.CreateConnection(ctx, scope, Connection{
		ID: n.ID, Name: n.Name, Description: n.Description, State: StateDraft,
		AuthorizedAppIDs: n.AuthorizedAppIDs, CreatedByApp: caller.AppID,
	})
	if errors.Is(err, ErrConflict) {
		return Connection{}, conflict("A connection with the id '%s' already exists.", n.ID)
	}
	if err != nil {
		return Connection{}, fmt.Errorf("create connection: %w", err)
	}
	return c, nil
}

// GetConnection returns one connection.
func (s *Service) GetConnection(ctx context.Context, caller Caller, id string) (Connection, error) {
	scope, err := caller.readScope()
	if err != nil {
		return Connection{}, err
	}
	c, err := s.store.GetConnection(ctx, scope, id)
	if errors.Is(err, ErrNotFound) {
		return Connection{}, connectionNotFound(id)
	}
	if err != nil {
		return Connection{}, fmt.Errorf("get connection: %w", err)
	}
	return c, nil
}

// ListConnections returns the connections the caller may see.
func (s *Service) ListConnections(ctx context.Context, caller Caller) ([]Connection, error) {
	scope, err := caller.readScope()
	if err != nil {
		return nil, err
	}
	cs, err := s.store.ListConnections(ctx, scope)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	return cs, nil
}

// DeleteConnection deletes a connection and, through the foreign key, its
// operations.
func (s *Service) DeleteConnection(ctx context.Context, caller Caller, id string) error {
	scope, err := caller.writeScope()
	if err != nil {
		return err
	}
	err = s.store.DeleteConnection(ctx, scope, id)
	if errors.Is(err, ErrNotFound) {
		return connectionNotFound(id)
	}
	if err != nil {
		return fmt.Errorf("delete connection: %w", err)
	}
	return nil
}

// CreateOperation records a new operation on a connection.
func (s *Service) CreateOperation(ctx context.Context, caller Caller, connectionID string, n NewOperation) (Operation, error) {
	scope, err := caller.writeScope()
	if err != nil {
		return Operation{}, err
	}
	if err := n.Validate(); err != nil {
		return Operation{}, err
	}
	op := Operation{ConnectionID: connectionID, ID: n.ID, Status: n.Status, Error: n.Error}
	if op.ID == "" {
		// Version 7 ids grow with time, so new rows land at the right edge of
		// the primary key index instead of on random pages.
		id, err := uuid.NewV7()
		if err != nil {
			return Operation{}, fmt.Errorf("generate operation id: %w", err)
		}
		op.ID = id.String()
	}
	if op.Status == "" {
		op.Status = StatusUnspecified
	}
	created, err := s.store.CreateOperation(ctx, scope, op)
	switch {
	case errors.Is(err, ErrNotFound):
		return Operation{}, connectionNotFound(connectionID)
	case errors.Is(err, ErrConflict):
		return Operation{}, conflict("An operation with the id '%s' already exists on connection '%s'.", op.ID, connectionID)
	case err != nil:
		return Operation{}, fmt.Errorf("create operation: %w", err)
	}
	return created, nil
}

// GetOperation returns one operation of a connection.
func (s *Service) GetOperation(ctx context.Context, caller Caller, connectionID, id string) (Operation, error) {
	scope, err := caller.readScope()
	if err != nil {
		return Operation{}, err
	}
	op, err := s.store.GetOperation(ctx, scope, connectionID, id)
	if errors.Is(err, ErrNotFound) {
		return Operation{}, notFound("The operation '%s' does not exist on connection '%s'.", truncate(id, 128), truncate(connectionID, 64))
	}
	if err != nil {
		return Operation{}, fmt.Errorf("get operation: %w", err)
	}
	return op, nil
}

func connectionNotFound(id string) error {
	return notFound("The connection '%s' does not exist.", truncate(id, 64))
}
