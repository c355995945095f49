-- +goose Up
-- Who started an operation: a client (POST .../operations, the seed's route)
-- or connops itself, for a schema registration it then finishes.
CREATE TYPE operation_kind AS ENUM ('client', 'schema');
ALTER TABLE operations ADD COLUMN kind operation_kind NOT NULL DEFAULT 'client';

-- What real connectors send on create (pnp samples), kept as sent.
ALTER TABLE connections
    ADD COLUMN connector_id      text,
    ADD COLUMN activity_settings jsonb,
    ADD COLUMN search_settings   jsonb;

-- Every schema a connection was sent, with the operation registering it.
-- pending until that operation ends; then active (the previous active one
-- becomes superseded) or failed. At most one of each of pending and active
-- per connection; the pending one is what makes a second registration a
-- 409. No foreign key to operations: retention may purge a finished
-- operation, the schema stays.
CREATE TYPE schema_state AS ENUM ('pending', 'active', 'failed', 'superseded');
CREATE TABLE schema_versions (
    tenant_id     text         NOT NULL,
    connection_id text         NOT NULL,
    version       integer      NOT NULL,
    operation_id  text         NOT NULL,
    state         schema_state NOT NULL DEFAULT 'pending',
    schema        jsonb        NOT NULL,
    created_at    timestamptz  NOT NULL DEFAULT now(),
    updated_at    timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connection_id, version),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX schema_versions_pending_idx ON schema_versions (tenant_id, connection_id) WHERE state = 'pending';
CREATE UNIQUE INDEX schema_versions_active_idx ON schema_versions (tenant_id, connection_id) WHERE state = 'active';

-- The engine's queue: one row per service-started operation still to
-- finish. due_at NULL is manual provisioning: only a caller with the
-- control role finishes it. A worker claims a due row by setting
-- claimed_by and a lease; a row whose lease lapsed may be claimed again.
-- The row goes in the transaction that finishes its operation, and with
-- the operation (and so with its connection) when that is deleted.
CREATE TABLE work_items (
    tenant_id     text        NOT NULL,
    connection_id text        NOT NULL,
    operation_id  text        NOT NULL,
    due_at        timestamptz,
    claimed_by    text,
    lease_until   timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connection_id, operation_id),
    FOREIGN KEY (tenant_id, connection_id, operation_id)
        REFERENCES operations (tenant_id, connection_id, id) ON DELETE CASCADE
);
CREATE INDEX work_items_due_idx ON work_items (due_at) WHERE due_at IS NOT NULL;

-- +goose Down
DROP TABLE work_items;
DROP TABLE schema_versions;
DROP TYPE schema_state;
ALTER TABLE connections DROP COLUMN search_settings, DROP COLUMN activity_settings, DROP COLUMN connector_id;
ALTER TABLE operations DROP COLUMN kind;
DROP TYPE operation_kind;
