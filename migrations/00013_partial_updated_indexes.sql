-- +goose Up
-- A lookup of one operation (or item) names its connection and id. When the
-- statistics say a connection holds about one row (a table that grew since
-- it was last analyzed, or many small connections beside one large one), a
-- generic plan costs the (..., updated_at) index the same as the primary key
-- and may take it, then walks every row of the connection: 11.7 ms for one
-- GET at 10,000 operations, which made 10,000 waits' reads and PATCHes queue
-- on their tenant's slots. Partial on a predicate that only a range on
-- updated_at implies, these indexes serve the statistics' windows and no
-- lookup by id.
DROP INDEX operations_updated_idx;
CREATE INDEX operations_updated_idx ON operations (tenant_id, connection_id, updated_at) WHERE updated_at IS NOT NULL;
DROP INDEX items_updated_idx;
CREATE INDEX items_updated_idx ON items (tenant_id, connection_uid, updated_at) WHERE updated_at IS NOT NULL;

-- +goose Down
DROP INDEX items_updated_idx;
CREATE INDEX items_updated_idx ON items (tenant_id, connection_uid, updated_at);
DROP INDEX operations_updated_idx;
CREATE INDEX operations_updated_idx ON operations (tenant_id, connection_id, updated_at);
