-- +goose Up
-- Connections are the parents of operations. Every key starts with the tenant so
-- that no query can reach across tenants and the schema can be distributed by
-- tenant later (Citus-style) without changing keys.
CREATE TYPE connection_state AS ENUM ('draft', 'ready', 'obsolete', 'limitExceeded');

CREATE TABLE connections (
    tenant_id          text             NOT NULL,
    id                 text             NOT NULL,
    name               text             NOT NULL,
    description        text,
    state              connection_state NOT NULL DEFAULT 'draft',
    created_by_app     text             NOT NULL DEFAULT '',
    authorized_app_ids text[]           NOT NULL DEFAULT '{}',
    created_at         timestamptz      NOT NULL DEFAULT now(),
    updated_at         timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT connections_tenant_len CHECK (char_length(tenant_id) BETWEEN 1 AND 128),
    CONSTRAINT connections_id_format CHECK (id ~ '^[A-Za-z0-9]{3,32}$'),
    CONSTRAINT connections_name_len CHECK (char_length(name) BETWEEN 1 AND 128)
);

-- +goose Down
DROP TABLE connections;
DROP TYPE connection_state;
