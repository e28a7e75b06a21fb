-- Signed webhooks to clients: endpoints, the messages sent (the event log), one delivery per
-- (message, endpoint) with its schedule, and one row per attempt.

-- A version 7 UUID: time-ordered, so ids sort by creation and serve as keyset cursors.
CREATE FUNCTION linkport_uuid7() RETURNS uuid AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$ LANGUAGE sql VOLATILE;

CREATE TABLE webhook_endpoints (
    id                          uuid PRIMARY KEY,
    client_id                   uuid NOT NULL,
    environment                 text NOT NULL,
    url                         text NOT NULL,
    description                 text,
    -- NULL: every event type that is not opt-in.
    event_types                 text[],
    -- The body and headers a receiver expects: Standard Webhooks, or a seed product's shape.
    format                      text NOT NULL CHECK (format IN ('standard', 'gocobalt', 'vital')),
    enabled                     boolean NOT NULL DEFAULT true,
    disabled_reason             text CHECK (disabled_reason IN ('manual', 'gone', 'failing')),
    disabled_at                 timestamptz,
    -- The first failure of the current unbroken run of failures (NULL after a success).
    failing_since               timestamptz,
    -- Its deliveries being sent: always the number of them in status 'sending' (a claim and
    -- the end of an attempt change both in one statement), held below the concurrency limit.
    in_flight                   integer NOT NULL DEFAULT 0,
    -- The signing secret, sealed with AES-256-GCM and bound to the endpoint; after a rotation
    -- the previous one keeps signing until previous_secret_expires_at.
    secret                      bytea NOT NULL,
    secret_nonce                bytea NOT NULL,
    secret_key_id               text NOT NULL,
    previous_secret             bytea,
    previous_secret_nonce       bytea,
    previous_secret_key_id      text,
    previous_secret_expires_at  timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (client_id, environment) REFERENCES environments ON DELETE CASCADE
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (client_id, environment, id);

-- What happened, once, whoever it was sent to: the id is the stable `webhook-id` (msg_…).
CREATE TABLE webhook_messages (
    id           uuid PRIMARY KEY,
    client_id    uuid NOT NULL,
    environment  text NOT NULL,
    type         text NOT NULL,
    -- {type, timestamp, data}: ids and statuses, never credentials.
    payload      jsonb NOT NULL,
    -- Set when the same fact may be announced by several processes at once (a connection
    -- found to need re-authorisation by twenty executions): one message.
    dedupe_key   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (client_id, environment) REFERENCES environments ON DELETE CASCADE
);
CREATE INDEX webhook_messages_tenant ON webhook_messages (client_id, environment, id);
CREATE UNIQUE INDEX webhook_messages_dedupe ON webhook_messages (client_id, environment, dedupe_key)
    WHERE dedupe_key IS NOT NULL;

-- pending (due at next_attempt_at) → sending (leased until lease_until) → succeeded | failed,
-- or back to pending with the next attempt scheduled. A sending row whose lease ran out
-- (its worker died) is claimable again. A due delivery whose endpoint already has its fill
-- in flight waits (waiting_since) for one of those to finish and take it next.
CREATE TABLE webhook_deliveries (
    id                  uuid PRIMARY KEY DEFAULT linkport_uuid7(),
    message_id          uuid NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    endpoint_id         uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    client_id           uuid NOT NULL,
    environment         text NOT NULL,
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'succeeded', 'failed')),
    attempts            integer NOT NULL DEFAULT 0,
    -- The attempt count when the current round of the retry schedule began (a redelivery
    -- starts a new round).
    round_start         integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    lease_until         timestamptz,
    waiting_since       timestamptz,
    last_attempt_at     timestamptz,
    last_status_code    integer,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_waiting ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id             uuid PRIMARY KEY DEFAULT linkport_uuid7(),
    delivery_id    uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt        integer NOT NULL,
    url            text NOT NULL,
    status_code    integer,
    -- The first 2 KB of the reply, for the client to see what its endpoint said.
    response_body  text,
    error          text,
    succeeded      boolean NOT NULL,
    started_at     timestamptz NOT NULL,
    duration_ms    double precision NOT NULL,
    UNIQUE (delivery_id, attempt)
);
