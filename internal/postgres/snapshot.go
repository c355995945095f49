package postgres

import (
	"time"

	"github.com/connops/connops/internal/connections"
)

// Snapshots are how created rows are recorded with their Idempotency-Key, so
// a replay answers exactly what the original did. Their JSON names are a
// storage format: keep them stable across releases while keys live.

type operationSnapshot struct {
	ConnectionID string                   `json:"connectionId"`
	ID           string                   `json:"id"`
	Status       connections.Status       `json:"status"`
	Error        *connections.PublicError `json:"error,omitempty"`
	Version      int64                    `json:"version"`
	CreatedAt    time.Time                `json:"createdAt"`
	UpdatedAt    time.Time                `json:"updatedAt"`
}

func snapshotOf(op connections.Operation) operationSnapshot {
	return operationSnapshot{ConnectionID: op.ConnectionID, ID: op.ID, Status: op.Status, Error: op.Error,
		Version: op.Version, CreatedAt: op.CreatedAt, UpdatedAt: op.UpdatedAt}
}

func (s operationSnapshot) operation() connections.Operation {
	return connections.Operation{ConnectionID: s.ConnectionID, ID: s.ID, Status: s.Status, Error: s.Error,
		Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

type connectionSnapshot struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Description      string            `json:"description,omitempty"`
	State            connections.State `json:"state"`
	AuthorizedAppIDs []string          `json:"authorizedAppIds,omitempty"`
	CreatedByApp     string            `json:"createdByApp,omitempty"`
	Version          int64             `json:"version"`
	CreatedAt        time.Time         `json:"createdAt"`
	UpdatedAt        time.Time         `json:"updatedAt"`
}

func connectionSnapshotOf(c connections.Connection) connectionSnapshot {
	return connectionSnapshot{ID: c.ID, Name: c.Name, Description: c.Description, State: c.State,
		AuthorizedAppIDs: c.AuthorizedAppIDs, CreatedByApp: c.CreatedByApp, Version: c.Version,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func (s connectionSnapshot) connection() connections.Connection {
	return connections.Connection{ID: s.ID, Name: s.Name, Description: s.Description, State: s.State,
		AuthorizedAppIDs: s.AuthorizedAppIDs, CreatedByApp: s.CreatedByApp, Version: s.Version,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}
