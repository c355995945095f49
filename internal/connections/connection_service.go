package connections

import (
	"context"
	"errors"
	"fmt"
)

// CreateConnection creates a connection owned by the calling app. replayed
// reports an answer recorded for an earlier request with the same key.
func (s *Service) CreateConnection(ctx context.Context, caller Caller, n NewConnection, key *IdempotencyKey) (c Connection, replayed bool, err error) {
	scope, err := caller.writeScope()
	if err != nil {
		return Connection{}, false, err
	}
	if err := n.Validate(); err != nil {
		return Connection{}, false, err
	}
	idem, err := s.idempotency(caller, key)
	if err != nil {
		return Connection{}, false, err
	}
	c, replayed, err = s.store.CreateConnection(ctx, scope, Connection{
		ID: n.ID, Name: n.Name, Description: n.Description, State: StateDraft,
		AuthorizedAppIDs: n.AuthorizedAppIDs, CreatedByApp: caller.AppID,
	}, s.opts.MaxConnectionsPerTenant, idem)
	switch {
	case errors.Is(err, ErrAlreadyExists):
		return Connection{}, false, alreadyExists("A connection with the id '%s' already exists.", n.ID)
	case errors.Is(err, ErrLimitExceeded):
		return Connection{}, false, &Error{Kind: ErrLimitExceeded, Message: fmt.Sprintf(
			"The tenant already has the maximum of %d connections; delete one first.", s.opts.MaxConnectionsPerTenant)}
	case errors.Is(err, ErrUnprocessable):
		return Connection{}, false, idempotencyMismatch()
	case err != nil:
		return Connection{}, false, fmt.Errorf("create connection: %w", err)
	}
	return c, replayed, nil
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

// ListConnections returns a page of the connections the caller may see,
// ordered by id. Connections support no $filter or $orderby.
func (s *Service) ListConnections(ctx context.Context, caller Caller, q ListQuery) (Page[Connection], error) {
	scope, err := caller.readScope()
	if err != nil {
		return Page[Connection]{}, err
	}
	if q.Filter != nil {
		return Page[Connection]{}, invalid("$filter", "Query option '$filter' is not supported on connections.")
	}
	for _, k := range q.OrderBy {
		if k.Field != FieldID || k.Descending {
			return Page[Connection]{}, invalid("$orderby", "Query option '$orderby' on connections supports only 'id asc'.")
		}
	}
	q.OrderBy = nil
	if err := ValidateOperationQuery(&q); err != nil {
		return Page[Connection]{}, err
	}
	page, err := s.store.ListConnections(ctx, scope, q)
	if err != nil {
		return Page[Connection]{}, fmt.Errorf("list connections: %w", err)
	}
	return page, nil
}

// ConnectionPatch is a PATCH of a connection; nil fields are left alone.
type ConnectionPatch struct {
	Name             *string
	Description      *string
	AuthorizedAppIDs *[]string
}

// UpdateConnection applies a patch.
func (s *Service) UpdateConnection(ctx context.Context, caller Caller, id string, p ConnectionPatch, pre *Precondition) (Connection, error) {
	scope, err := caller.writeScope()
	if err != nil {
		return Connection{}, err
	}
	c, err := s.store.UpdateConnection(ctx, scope, id, func(c *Connection) error {
		if err := pre.check(c.Version); err != nil {
			return err
		}
		n := NewConnection{ID: c.ID, Name: c.Name, Description: c.Description, AuthorizedAppIDs: c.AuthorizedAppIDs}
		if p.Name != nil {
			n.Name = *p.Name
		}
		if p.Description != nil {
			n.Description = *p.Description
		}
		if p.AuthorizedAppIDs != nil {
			n.AuthorizedAppIDs = *p.AuthorizedAppIDs
		}
		if err := n.Validate(); err != nil {
			return err
		}
		c.Name, c.Description, c.AuthorizedAppIDs = n.Name, n.Description, n.AuthorizedAppIDs
		return nil
	})
	if errors.Is(err, ErrNotFound) && !errors.As(err, new(*Error)) {
		return Connection{}, connectionNotFound(id)
	}
	if err != nil {
		return Connection{}, wrapUnlessPublic("update connection", err)
	}
	return c, nil
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

func connectionNotFound(id string) error {
	return notFound("The connection '%s' does not exist.", truncate(id, 64))
}

// wrapUnlessPublic adds context to internal errors but passes a caller-facing
// *Error through unchanged.
func wrapUnlessPublic(what string, err error) error {
	var pub *Error
	if errors.As(err, &pub) {
		return pub
	}
	return fmt.Errorf("%s: %w", what, err)
}
