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
		AuthorizedAppIDs: n.AuthorizedAppIDs, CreatedByApp: caller.AppID, ConnectorID: n.ConnectorID,
		ActivitySettings: n.ActivitySettings, SearchSettings: n.SearchSettings,
	}, s.opts.MaxConnectionsPerTenant, idem)
	switch {
	case errors.Is(err, ErrAlreadyExists):
		// The same answer whoever holds the id, and whatever its case: an
		// OwnedBy app learns only that the id is taken in its tenant, which
		// is what Graph's 409 tells any caller (docs/security.md).
		return Connection{}, false, describe(ErrAlreadyExists, err, "A connection with the id '%s' already exists.", n.ID)
	case errors.Is(err, ErrLimitExceeded):
		return Connection{}, false, describe(ErrLimitExceeded, err,
			"The tenant already has the maximum of %d connections; delete one first.", s.opts.MaxConnectionsPerTenant)
	case errors.Is(err, ErrUnprocessable):
		return Connection{}, false, idempotencyMismatch(err)
	case err != nil:
		return Connection{}, false, fmt.Errorf("create connection: %w", err)
	}
	return c, replayed, nil
}

// GetConnection returns one connection; fields are the properties selected
// (all when empty).
func (s *Service) GetConnection(ctx context.Context, caller Caller, id string, fields []string) (Connection, error) {
	scope, err := caller.readScope()
	if err != nil {
		return Connection{}, err
	}
	if err := validateFields(fields, connectionFields); err != nil {
		return Connection{}, err
	}
	c, err := s.store.GetConnection(ctx, scope, id)
	if err != nil {
		return Connection{}, connectionError(err, id)
	}
	return c, nil
}

// connectionFields are the properties of a connection, for $select.
var connectionFields = []string{"id", "name", "description", "state", "configuration", "connectorId", "activitySettings", "searchSettings"}

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
	q.OrderBy = []OrderKey{{Field: FieldID}}
	if err := validatePaging(&q); err != nil {
		return Page[Connection]{}, err
	}
	if err := validateFields(q.Fields, connectionFields); err != nil {
		return Page[Connection]{}, err
	}
	if err := validateCursor(&q); err != nil {
		return Page[Connection]{}, err
	}
	page, err := s.store.ListConnections(ctx, scope, q)
	if err != nil {
		return Page[Connection]{}, fmt.Errorf("list connections: %w", err)
	}
	return page, nil
}

// ConnectionPatch is a PATCH of a connection; nil fields are left alone.
// The settings are replaced when their Set flag is on, and cleared when it
// is on with a nil value (a JSON null).
type ConnectionPatch struct {
	Name                *string
	Description         *string
	AuthorizedAppIDs    *[]string
	ActivitySettings    *ActivitySettings
	SetActivitySettings bool
	SearchSettings      *SearchSettings
	SetSearchSettings   bool
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
		n := NewConnection{ID: c.ID, Name: c.Name, Description: c.Description, AuthorizedAppIDs: c.AuthorizedAppIDs,
			ConnectorID: c.ConnectorID, ActivitySettings: c.ActivitySettings, SearchSettings: c.SearchSettings}
		if p.SetActivitySettings {
			n.ActivitySettings = p.ActivitySettings
		}
		if p.SetSearchSettings {
			n.SearchSettings = p.SearchSettings
		}
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
		c.ActivitySettings, c.SearchSettings = n.ActivitySettings, n.SearchSettings
		return nil
	})
	if err != nil {
		return Connection{}, connectionError(err, id)
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
	if err := s.store.DeleteConnection(ctx, scope, id); err != nil {
		return connectionError(err, id)
	}
	return nil
}

// connectionError words a store failure about connection id: a missing
// connection gets its message, anything else passes on with its own.
func connectionError(err error, id string) error {
	if errors.Is(err, ErrNotFound) {
		return describe(ErrNotFound, err, "The connection '%s' does not exist.", truncate(id, 64))
	}
	return err
}
