-- +goose Up
-- The per-connection count moves to its own narrow table. Updated with every
-- create, the count is the hottest row in the schema; on the connections row
-- itself each update left another row version for the scope checks and
-- foreign-key checks of every create to step over. Here only the count's
-- own lock and update touch it.
CREATE TABLE operation_counts (
    tenant_id     text   NOT NULL,
    connection_id text   NOT NULL,
    n             bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, connection_id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id) ON DELETE CASCADE
);
INSERT INTO operation_counts (tenant_id, connection_id, n)
SELECT tenant_id, id, operation_count FROM connections;
ALTER TABLE connections DROP COLUMN operation_count;

-- Every connection has its count row from the start, so a create can always
-- lock it: there is no first-insert race to lose.
-- +goose StatementBegin
CREATE FUNCTION connops_add_operation_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO operation_counts (tenant_id, connection_id) VALUES (NEW.tenant_id, NEW.id);
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER connections_add_operation_count AFTER INSERT ON connections
    FOR EACH ROW EXECUTE FUNCTION connops_add_operation_count();

-- +goose Down
DROP TRIGGER connections_add_operation_count ON connections;
DROP FUNCTION connops_add_operation_count();
ALTER TABLE connections ADD COLUMN operation_count bigint NOT NULL DEFAULT 0;
UPDATE connections c SET operation_count = oc.n
FROM operation_counts oc WHERE oc.tenant_id = c.tenant_id AND oc.connection_id = c.id;
DROP TABLE operation_counts;
