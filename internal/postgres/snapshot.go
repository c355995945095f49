package postgres

import (
	"encoding/json"
	"time"

	"github.com/connops/connops/internal/connections"
)

// Snapshots are how created rows are recorded with their Idempotency-Key, so
// a replay answers exactly what the original did. Their JSON names are a
// storage format: keep them stable across releases while keys live.

type operationSnapshot struct {
	ConnectionID string                   `json:"connectionId"`
	ID           string                   `json:"id"`
	Kind         connections.Kind         `json:"kind,omitempty"`
	Status       connections.Status       `json:"status"`
	Error        *connections.PublicError `json:"error,omitempty"`
	Version      int64                    `json:"version"`
	CreatedAt    time.Time                `json:"createdAt"`
	UpdatedAt    time.Time                `json:"updatedAt"`
}

func snapshotOf(op connections.Operation) operationSnapshot {
	return operationSnapshot{ConnectionID: op.ConnectionID, ID: op.ID, Kind: op.Kind, Status: op.Status, Error: op.Error,
		Version: op.Version, CreatedAt: op.CreatedAt, UpdatedAt: op.UpdatedAt}
}

func (s operationSnapshot) operation() connections.Operation {
	return connections.Operation{ConnectionID: s.ConnectionID, ID: s.ID, Kind: s.Kind, Status: s.Status, Error: s.Error,
		Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

type connectionSnapshot struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Description      string            `json:"description,omitempty"`
	State            connections.State `json:"state"`
	AuthorizedAppIDs []string          `json:"authorizedAppIds,omitempty"`
	CreatedByApp     string            `json:"createdByApp,omitempty"`
	ConnectorID      string            `json:"connectorId,omitempty"`
	ActivitySettings json.RawMessage   `json:"activitySettings,omitempty"`
	SearchSettings   json.RawMessage   `json:"searchSettings,omitempty"`
	Version          int64             `json:"version"`
	CreatedAt        time.Time         `json:"createdAt"`
	UpdatedAt        time.Time         `json:"updatedAt"`
}

func connectionSnapshotOf(c connections.Connection) connectionSnapshot {
	activity, _ := encodeActivitySettings(c.ActivitySettings)
	search, _ := encodeSearchSettings(c.SearchSettings)
	return connectionSnapshot{ID: c.ID, Name: c.Name, Description: c.Description, State: c.State,
		AuthorizedAppIDs: c.AuthorizedAppIDs, CreatedByApp: c.CreatedByApp, ConnectorID: c.ConnectorID,
		ActivitySettings: rawOf(activity), SearchSettings: rawOf(search), Version: c.Version,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func (s connectionSnapshot) connection() connections.Connection {
	c := connections.Connection{ID: s.ID, Name: s.Name, Description: s.Description, State: s.State,
		AuthorizedAppIDs: s.AuthorizedAppIDs, CreatedByApp: s.CreatedByApp, ConnectorID: s.ConnectorID,
		Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	// Both were encoded from valid settings by connectionSnapshotOf.
	c.ActivitySettings, _ = decodeActivitySettings(s.ActivitySettings)
	c.SearchSettings, _ = decodeSearchSettings(s.SearchSettings)
	return c
}

func rawOf(text *string) json.RawMessage {
	if text == nil {
		return nil
	}
	return json.RawMessage(*text)
}
