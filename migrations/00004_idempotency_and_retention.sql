-- +goose Up
-- An Idempotency-Key and the result it produced, written in the same
-- transaction as the row it created: either both exist or neither does.
-- Keys are scoped by tenant and app, so one client can never replay, or even
-- detect, another's keys.
CREATE TABLE idempotency_keys (
    tenant_id   text        NOT NULL,
    app_id      text        NOT NULL,
    key         text        NOT NULL,
    fingerprint text        NOT NULL,
    result      jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, app_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- The retention job finds finished operations by age through this index
-- without touching the ones still running.
CREATE INDEX operations_finished_idx ON operations (updated_at)
    WHERE status IN ('completed', 'failed');

-- +goose Down
DROP INDEX operations_finished_idx;
DROP TABLE idempotency_keys;
