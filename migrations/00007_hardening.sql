-- +goose Up
-- Graph treats connection ids without regard to case: 'conna' and 'CONNA'
-- cannot both exist in a tenant. Lookups stay exact; only uniqueness folds
-- case (docs/api.md).
CREATE UNIQUE INDEX connections_tenant_lower_id_idx ON connections (tenant_id, lower(id));

-- The size of an operation's error as text, kept by PostgreSQL itself. A list
-- cuts its page by the running sum of these sizes without reading a single
-- error value, so a page of large errors costs no more than its byte budget.
ALTER TABLE operations ADD COLUMN error_bytes integer
    GENERATED ALWAYS AS (coalesce(octet_length(error::text), 0)) STORED;

-- Secrets the replicas share through the database: the first replica to
-- start creates each one, every other reads it. purpose names the use
-- ('page-token' seals $skiptoken values); the newest row of a purpose signs
-- and every row verifies, so a key is rotated by inserting a new one and
-- deleting the old one later (docs/security.md).
CREATE TABLE secrets (
    purpose    text        NOT NULL,
    id         bigint      GENERATED ALWAYS AS IDENTITY,
    secret     bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (purpose, id),
    CONSTRAINT secrets_len CHECK (octet_length(secret) >= 16)
);

-- The status index becomes partial on a predicate every row meets. The
-- planner uses a partial index only where the query implies its predicate,
-- so id lookups (and the duplicate probe of every create) can no longer be
-- planned through it: without statistics for a new connection, the two
-- indexes cost the same and the status index, which must scan the whole
-- connection to find an id, was often picked. Status filters imply the
-- predicate (status = x is strict); lists ordered by status state it.
DROP INDEX operations_status_idx;
CREATE INDEX operations_status_idx ON operations (tenant_id, connection_id, status, id) WHERE status IS NOT NULL;

-- +goose Down
DROP INDEX operations_status_idx;
CREATE INDEX operations_status_idx ON operations (tenant_id, connection_id, status, id);
DROP TABLE secrets;
ALTER TABLE operations DROP COLUMN error_bytes;
DROP INDEX connections_tenant_lower_id_idx;
