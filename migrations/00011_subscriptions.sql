-- +goose Up
-- Graph-shaped subscriptions. Each row is also its own outbox position:
-- delivered_through is the id of the tenant's change the subscription has
-- delivered (or passed over as not its own) through. Per-tenant change ids
-- are commit-ordered (00010), so "changes of the tenant with id >
-- delivered_through" is exactly what is left to deliver, with no gap.
--
-- owned_only and application_id are the creator's read scope (as
-- connections.Scope): the change log rows carry their connection's apps, so
-- the one visibility rule of every query on connections applies to what a
-- subscription is sent. connection_id is '' for a subscription on every
-- connection, operation_id '' unless it watches one operation. endpoint is
-- the host and port of notification_url (lifecycle_endpoint of
-- lifecycle_url, '' without one): the delivery workers bound how many
-- requests one endpoint gets at once, so a slow one cannot hold them all.
--
-- The delivery columns: due_at is when a worker may next try (later while
-- backing off), attempts the failures in a row, claimed_by and lease_until
-- the worker holding it (as work_items). reminder_at is when
-- reauthorizationRequired is due; NULL once sent, or without a
-- lifecycle_url.
CREATE TABLE subscriptions (
    id                uuid          PRIMARY KEY,
    tenant_id         text          NOT NULL,
    application_id    text          NOT NULL,
    owned_only        boolean       NOT NULL,
    resource          text          NOT NULL,
    connection_id     text          NOT NULL,
    operation_id      text          NOT NULL,
    change_types      change_type[] NOT NULL,
    notification_url  text          NOT NULL,
    endpoint          text          NOT NULL,
    lifecycle_url     text          NOT NULL,
    lifecycle_endpoint text        NOT NULL,
    client_state      text,
    tls_version       text          NOT NULL,
    expires_at        timestamptz   NOT NULL,
    reminder_at       timestamptz,
    created_at        timestamptz   NOT NULL DEFAULT now(),
    delivered_through bigint        NOT NULL,
    due_at            timestamptz   NOT NULL DEFAULT now(),
    attempts          integer       NOT NULL DEFAULT 0,
    claimed_by        text,
    lease_until       timestamptz,
    CONSTRAINT subscriptions_operation_needs_connection CHECK (operation_id = '' OR connection_id <> '')
);
-- Lists and reads by owner; the workers' claims by tenant; the sweeps by
-- time.
CREATE INDEX subscriptions_owner_idx ON subscriptions (tenant_id, application_id, id);
CREATE INDEX subscriptions_due_idx ON subscriptions (tenant_id, due_at);
CREATE INDEX subscriptions_expires_idx ON subscriptions (expires_at);
CREATE INDEX subscriptions_reminder_idx ON subscriptions (reminder_at) WHERE reminder_at IS NOT NULL;

-- Lifecycle notifications waiting to be sent to a lifecycleNotificationUrl.
-- A row carries everything its POST needs, so subscriptionRemoved outlives
-- its subscription (no foreign key). Claimed and retried like deliveries.
CREATE TABLE subscription_events (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id uuid        NOT NULL,
    tenant_id       text        NOT NULL,
    application_id  text        NOT NULL,
    url             text        NOT NULL,
    endpoint        text        NOT NULL,
    client_state    text,
    expires_at      timestamptz NOT NULL,
    event           text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    due_at          timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    claimed_by      text,
    lease_until     timestamptz,
    CONSTRAINT subscription_events_event CHECK (event IN ('reauthorizationRequired', 'subscriptionRemoved', 'missed'))
);
CREATE INDEX subscription_events_due_idx ON subscription_events (due_at);
CREATE INDEX subscription_events_subscription_idx ON subscription_events (subscription_id);

-- +goose Down
DROP TABLE subscription_events;
DROP TABLE subscriptions;
