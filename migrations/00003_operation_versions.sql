-- +goose Up
-- version backs the ETag used for optimistic concurrency on PATCH: it grows by
-- one on every update, so an If-Match from before any change no longer matches.
ALTER TABLE operations ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE connections ADD COLUMN version bigint NOT NULL DEFAULT 1;

-- Filtering and ordering by status page through this index (keyset on
-- status, id) instead of sorting the connection's operations.
CREATE INDEX operations_status_idx ON operations (tenant_id, connection_id, status, id);

-- +goose Down
DROP INDEX operations_status_idx;
ALTER TABLE connections DROP COLUMN version;
ALTER TABLE operations DROP COLUMN version;
