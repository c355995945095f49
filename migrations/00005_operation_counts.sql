-- +goose Up
-- How many operations each connection holds, kept in step by every statement
-- that inserts or deletes operations, so the per-connection cap is one
-- column read under the connection's row lock instead of a count over the
-- connection's operations on every create.
ALTER TABLE connections ADD COLUMN operation_count bigint NOT NULL DEFAULT 0;
UPDATE connections c SET operation_count = (
    SELECT count(*) FROM operations o WHERE o.tenant_id = c.tenant_id AND o.connection_id = c.id);

-- +goose Down
ALTER TABLE connections DROP COLUMN operation_count;
