-- +goose Up
-- One counter row per connection for everything capped per connection: it
-- was operation_counts; items join operations there, so every writer of a
-- connection's capped rows takes the same row lock first.
ALTER TABLE operation_counts RENAME TO connection_counts;
ALTER TABLE connection_counts RENAME COLUMN n TO operations;
ALTER TABLE connection_counts ADD COLUMN items bigint NOT NULL DEFAULT 0;
ALTER FUNCTION connops_add_operation_count() RENAME TO connops_add_connection_counts;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION connops_add_connection_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO connection_counts (tenant_id, connection_id) VALUES (NEW.tenant_id, NEW.id);
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- uid tells one incarnation of a connection id from the next. Items, groups
-- and their members hang off it rather than off the id, with no foreign
-- key: deleting a connection stays one quick statement however many items
-- it holds, and the purge job removes them in batches afterwards
-- (deleted_connections), while a connection created again with the same
-- id starts empty. active_schema_version is the schema items are checked
-- against.
ALTER TABLE connections ADD COLUMN uid bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE connections ADD CONSTRAINT connections_uid_key UNIQUE (uid);
ALTER TABLE connections ADD COLUMN active_schema_version integer;
UPDATE connections c SET active_schema_version = sv.version
FROM schema_versions sv WHERE sv.tenant_id = c.tenant_id AND sv.connection_id = c.id AND sv.state = 'active';

CREATE TABLE deleted_connections (
    tenant_id      text        NOT NULL,
    connection_uid bigint      NOT NULL,
    deleted_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connection_uid)
);

-- An item as the connector sent it. properties holds the values by their
-- schema names (annotations are rendered from the schema); acl the entries
-- as sent; size_bytes, kept by PostgreSQL, lets a list cut its pages by
-- size without reading the rows.
CREATE TABLE items (
    tenant_id      text        NOT NULL,
    connection_uid bigint      NOT NULL,
    id             text        NOT NULL,
    properties     jsonb       NOT NULL,
    acl            jsonb       NOT NULL,
    content_type   text,
    content        text,
    version        bigint      NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    size_bytes     integer GENERATED ALWAYS AS (
        octet_length(properties::text) + octet_length(acl::text) + coalesce(octet_length(content), 0)) STORED,
    PRIMARY KEY (tenant_id, connection_uid, id),
    CONSTRAINT items_id_len CHECK (char_length(id) BETWEEN 1 AND 128)
);
-- Items written per minute, for the console's plot.
CREATE INDEX items_updated_idx ON items (tenant_id, connection_uid, updated_at);

CREATE TABLE item_activities (
    tenant_id      text        NOT NULL,
    connection_uid bigint      NOT NULL,
    item_id        text        NOT NULL,
    seq            bigint      GENERATED ALWAYS AS IDENTITY,
    type           text        NOT NULL,
    start_at       timestamptz NOT NULL,
    performed_by   jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connection_uid, item_id, seq),
    FOREIGN KEY (tenant_id, connection_uid, item_id) REFERENCES items (tenant_id, connection_uid, id) ON DELETE CASCADE
);

CREATE TABLE external_groups (
    tenant_id      text        NOT NULL,
    connection_uid bigint      NOT NULL,
    id             text        NOT NULL,
    display_name   text,
    description    text,
    version        bigint      NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connection_uid, id)
);

CREATE TABLE group_members (
    tenant_id       text        NOT NULL,
    connection_uid  bigint      NOT NULL,
    group_id        text        NOT NULL,
    id              text        NOT NULL,
    type            text        NOT NULL,
    identity_source text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connection_uid, group_id, id),
    FOREIGN KEY (tenant_id, connection_uid, group_id) REFERENCES external_groups (tenant_id, connection_uid, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE group_members;
DROP TABLE external_groups;
DROP TABLE item_activities;
DROP TABLE items;
DROP TABLE deleted_connections;
ALTER TABLE connections DROP COLUMN active_schema_version;
ALTER TABLE connections DROP CONSTRAINT connections_uid_key;
ALTER TABLE connections DROP COLUMN uid;
ALTER TABLE connection_counts DROP COLUMN items;
ALTER FUNCTION connops_add_connection_counts() RENAME TO connops_add_operation_count;
ALTER TABLE connection_counts RENAME COLUMN operations TO n;
ALTER TABLE connection_counts RENAME TO operation_counts;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION connops_add_operation_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO operation_counts (tenant_id, connection_id) VALUES (NEW.tenant_id, NEW.id);
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
