-- The hosted Link flow: apps enabled per client, connection credentials, the sandbox provider.

CREATE TABLE app_settings (
    client_id                uuid NOT NULL,
    environment              text NOT NULL,
    app                      text NOT NULL,
    enabled                  boolean NOT NULL,
    -- The client's own OAuth client for this app (the secret sealed with AES-256-GCM).
    oauth_client_id          text,
    oauth_client_secret      bytea,
    oauth_client_secret_nonce bytea,
    oauth_key_id             text,
    scopes                   text[],
    updated_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, environment, app),
    FOREIGN KEY (client_id, environment) REFERENCES environments ON DELETE CASCADE
);

ALTER TABLE connections
    -- Third-party credentials, sealed with AES-256-GCM and bound to the connection id.
    ADD COLUMN credentials             bytea,
    ADD COLUMN credentials_nonce       bytea,
    ADD COLUMN credentials_key_id      text,
    -- When the access token in the credentials expires (NULL: does not expire).
    ADD COLUMN credentials_expires_at  timestamptz,
    -- The provider's id for the authorised account, and non-secret connection fields.
    ADD COLUMN provider_account_id     text,
    ADD COLUMN fields                  jsonb NOT NULL DEFAULT '{}';

-- The sandbox provider: a real OAuth2 server and API served by Linkport itself.
CREATE TABLE sandbox_grants (
    id               uuid PRIMARY KEY,
    username         text NOT NULL,
    client_id        text NOT NULL,
    scopes           text[] NOT NULL DEFAULT '{}',
    -- A fault switched on for this grant: expired_token, revoked, rate_limited, server_error.
    fault            text,
    fault_remaining  integer,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sandbox_tokens (
    token_hash  bytea PRIMARY KEY,
    grant_id    uuid NOT NULL REFERENCES sandbox_grants (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('access', 'refresh')),
    expires_at  timestamptz,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sandbox_tokens_grant ON sandbox_tokens (grant_id);

CREATE TABLE sandbox_calls (
    id               bigserial PRIMARY KEY,
    grant_id         uuid REFERENCES sandbox_grants (id) ON DELETE CASCADE,
    method           text NOT NULL,
    path             text NOT NULL,
    body             jsonb,
    idempotency_key  text,
    status           integer NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sandbox_calls_grant ON sandbox_calls (grant_id, id);

CREATE TABLE sandbox_contacts (
    id               bigserial PRIMARY KEY,
    grant_id         uuid NOT NULL REFERENCES sandbox_grants (id) ON DELETE CASCADE,
    data             jsonb NOT NULL,
    idempotency_key  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (grant_id, idempotency_key)
);
