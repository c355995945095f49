-- +goose Up
-- The change log: one row per change of an operation or a connection,
-- written by the triggers below in the transaction that makes the change,
-- so a change is logged exactly when it commits. Waiting requests, event
-- streams and webhooks all read it.
--
-- id is per-tenant commit-ordered: the triggers take the tenant's
-- transaction lock before the row takes its id, and hold it to commit, so
-- within a tenant a row with a higher id always commits after every row with
-- a lower one. A reader that has seen every row up to id N has missed
-- nothing below N, which is what makes Last-Event-ID resumption and the
-- webhook cursors gap-free. The lock is taken at the end of the statement
-- that changes the rows, the last thing most transactions do, so it is held
-- only through their commit. (The identity keeps the default cache of 1:
-- with a per-session cache ids would not follow that order.)
--
-- created_by_app and authorized_app_ids are the connection's at the
-- change, so the one visibility rule of every query on connections applies
-- to changes unchanged. entity is the row as it stood after the change (as
-- it was, for a delete).
CREATE TYPE change_resource AS ENUM ('connection', 'operation');
CREATE TYPE change_type AS ENUM ('created', 'updated', 'deleted');
CREATE TABLE changes (
    id                 bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id          text            NOT NULL,
    connection_id      text            NOT NULL,
    created_by_app     text            NOT NULL,
    authorized_app_ids text[]          NOT NULL,
    resource           change_resource NOT NULL,
    resource_id        text            NOT NULL,
    change_type        change_type     NOT NULL,
    entity             jsonb           NOT NULL,
    at                 timestamptz     NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id)
);
-- Retention and the replicas' safety poll look rows up by time; rows go in
-- in time order, so a BRIN index is a few pages and costs writers nothing.
CREATE INDEX changes_at_idx ON changes USING brin (at);

-- What retention has removed of each tenant's changes: a stream resuming
-- from an id below it may have missed changes, and is told so (410) rather
-- than resumed with a gap.
CREATE TABLE change_log_horizon (
    tenant_id      text   PRIMARY KEY,
    purged_through bigint NOT NULL
);

-- Statement-level triggers with transition tables: a create of 128
-- operations in one statement logs them with one insert. The operations a
-- connection delete takes with it (its cascade) are not logged: their
-- connection is gone by the time the trigger runs, the join below drops
-- them, and the connection's own deleted change stands for them. (The
-- LIMIT keeps the join a nested loop, so rows are logged in their
-- statement's order.)
-- +goose StatementBegin
CREATE FUNCTION connops_log_operation_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('connops.changes:' || t, 0))
    FROM (SELECT DISTINCT tenant_id FROM changed_rows ORDER BY 1) s(t);
    INSERT INTO changes (tenant_id, connection_id, created_by_app, authorized_app_ids, resource, resource_id, change_type, entity)
    SELECT r.tenant_id, r.connection_id, c.created_by_app, c.authorized_app_ids, 'operation', r.id,
           CASE TG_OP WHEN 'INSERT' THEN 'created' WHEN 'UPDATE' THEN 'updated' ELSE 'deleted' END::change_type,
           to_jsonb(r) - 'tenant_id' - 'error_bytes'
    FROM changed_rows r
    JOIN LATERAL (SELECT c.created_by_app, c.authorized_app_ids FROM connections c
                  WHERE c.tenant_id = r.tenant_id AND c.id = r.connection_id LIMIT 1) c ON true;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION connops_log_connection_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('connops.changes:' || t, 0))
    FROM (SELECT DISTINCT tenant_id FROM changed_rows ORDER BY 1) s(t);
    INSERT INTO changes (tenant_id, connection_id, created_by_app, authorized_app_ids, resource, resource_id, change_type, entity)
    SELECT r.tenant_id, r.id, r.created_by_app, r.authorized_app_ids, 'connection', r.id,
           CASE TG_OP WHEN 'INSERT' THEN 'created' WHEN 'UPDATE' THEN 'updated' ELSE 'deleted' END::change_type,
           to_jsonb(r) - 'tenant_id'
    FROM changed_rows r;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER operations_log_insert AFTER INSERT ON operations
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION connops_log_operation_changes();
CREATE TRIGGER operations_log_update AFTER UPDATE ON operations
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION connops_log_operation_changes();
CREATE TRIGGER operations_log_delete AFTER DELETE ON operations
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION connops_log_operation_changes();
CREATE TRIGGER connections_log_insert AFTER INSERT ON connections
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION connops_log_connection_changes();
CREATE TRIGGER connections_log_update AFTER UPDATE ON connections
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION connops_log_connection_changes();
CREATE TRIGGER connections_log_delete AFTER DELETE ON connections
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION connops_log_connection_changes();

-- A connection's operations by their last update, for its statistics
-- (operations started and finished per minute): without it those would
-- read every operation the connection holds.
CREATE INDEX operations_updated_idx ON operations (tenant_id, connection_id, updated_at);

-- +goose Down
DROP INDEX operations_updated_idx;
DROP TRIGGER connections_log_delete ON connections;
DROP TRIGGER connections_log_update ON connections;
DROP TRIGGER connections_log_insert ON connections;
DROP TRIGGER operations_log_delete ON operations;
DROP TRIGGER operations_log_update ON operations;
DROP TRIGGER operations_log_insert ON operations;
DROP FUNCTION connops_log_connection_changes();
DROP FUNCTION connops_log_operation_changes();
DROP TABLE change_log_horizon;
DROP TABLE changes;
DROP TYPE change_type;
DROP TYPE change_resource;
