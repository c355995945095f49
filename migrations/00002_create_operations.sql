-- +goose Up
-- unknownFutureValue is deliberately not a member: it is a wire-level sentinel
-- that is never stored. New members are added with ALTER TYPE ... ADD VALUE.
CREATE TYPE operation_status AS ENUM ('unspecified', 'inprogress', 'completed', 'failed');

CREATE TABLE operations (
    tenant_id     text             NOT NULL,
    connection_id text             NOT NULL,
    id            text             NOT NULL,
    status        operation_status NOT NULL DEFAULT 'unspecified',
    -- The canonical (publicError-shaped) error; each route renders its own shape.
    error         jsonb,
    created_at    timestamptz      NOT NULL DEFAULT now(),
    updated_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, connection_id, id),
    FOREIGN KEY (tenant_id, connection_id)
        REFERENCES connections (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT operations_id_len CHECK (char_length(id) BETWEEN 1 AND 128),
    CONSTRAINT operations_error_object CHECK (error IS NULL OR jsonb_typeof(error) = 'object')
);

-- +goose Down
DROP TABLE operations;
DROP TYPE operation_status;
