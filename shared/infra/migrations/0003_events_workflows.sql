-- App events, workflows, per-account configs, and durable executions with step checkpoints.

CREATE TABLE event_definitions (
    id           uuid PRIMARY KEY,
    client_id    uuid NOT NULL,
    environment  text NOT NULL,
    name         text NOT NULL,
    version      integer NOT NULL,
    schema       jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, environment, name, version),
    FOREIGN KEY (client_id, environment) REFERENCES environments ON DELETE CASCADE
);

CREATE TABLE events (
    id                  uuid PRIMARY KEY,
    client_id           uuid NOT NULL,
    environment         text NOT NULL,
    name                text NOT NULL,
    definition_version  integer NOT NULL,
    linked_account_id   text NOT NULL,
    config_id           text,
    payload             jsonb NOT NULL,
    idempotency_key     text,
    request_hash        bytea,
    -- pending: waiting for fan-out; fanned_out: its executions exist.
    status              text NOT NULL CHECK (status IN ('pending', 'fanned_out')),
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    fanned_out_at       timestamptz,
    UNIQUE (client_id, environment, idempotency_key),
    FOREIGN KEY (client_id, environment, linked_account_id) REFERENCES linked_accounts ON DELETE CASCADE
);
CREATE INDEX events_due ON events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX events_tenant ON events (client_id, environment, created_at);

CREATE TABLE workflows (
    id             uuid PRIMARY KEY,
    client_id      uuid NOT NULL,
    environment    text NOT NULL,
    name           text NOT NULL,
    app            text NOT NULL,
    trigger_event  text NOT NULL,
    definition     jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (client_id, environment) REFERENCES environments ON DELETE CASCADE
);
CREATE INDEX workflows_trigger ON workflows (client_id, environment, trigger_event);

CREATE TABLE configs (
    id                 uuid PRIMARY KEY,
    client_id          uuid NOT NULL,
    environment        text NOT NULL,
    linked_account_id  text NOT NULL,
    app                text NOT NULL,
    config_id          text NOT NULL,
    field_values       jsonb NOT NULL DEFAULT '{}',
    enabled_workflows  uuid[] NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, environment, linked_account_id, app, config_id),
    FOREIGN KEY (client_id, environment, linked_account_id) REFERENCES linked_accounts ON DELETE CASCADE
);

CREATE TABLE executions (
    id                 uuid PRIMARY KEY,
    client_id          uuid NOT NULL,
    environment        text NOT NULL,
    event_id           uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    workflow_id        uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    linked_account_id  text NOT NULL,
    connection_id      uuid NOT NULL,
    config_id          uuid REFERENCES configs (id) ON DELETE SET NULL,
    -- pending (due at next_attempt_at) → running (leased until lease_until) → succeeded |
    -- failed | needs_reauth. A running row whose lease ran out is claimable again.
    status             text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'needs_reauth')),
    attempts           integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    lease_until        timestamptz,
    error              jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    UNIQUE (event_id, workflow_id)
);
CREATE INDEX executions_due ON executions (next_attempt_at) WHERE status = 'pending';
CREATE INDEX executions_leased ON executions (lease_until) WHERE status = 'running';
CREATE INDEX executions_tenant ON executions (client_id, environment, id);

CREATE TABLE step_runs (
    execution_id  uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    step_id       text NOT NULL,
    position      integer NOT NULL,
    status        text NOT NULL CHECK (status IN ('succeeded', 'failed', 'skipped')),
    input         jsonb,
    output        jsonb,
    error         jsonb,
    attempts      integer NOT NULL DEFAULT 0,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    PRIMARY KEY (execution_id, step_id)
);
