-- Tenants, their environments and credentials; orgs, linked accounts, connections.
-- Every tenant-owned table is keyed by (client_id, environment, ...).

CREATE TABLE clients (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE environments (
    client_id              uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    environment            text NOT NULL CHECK (environment IN ('test', 'live')),
    public_client_id       text NOT NULL UNIQUE,
    color                  text,
    callback_url           text,
    allowed_redirect_urls  text[] NOT NULL DEFAULT '{}',
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, environment)
);

-- Client secrets and API keys, stored only as SHA-256 digests.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    client_id    uuid NOT NULL,
    environment  text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('client_secret', 'api_key')),
    secret_hash  bytea NOT NULL UNIQUE,
    hint         text NOT NULL,
    name         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    FOREIGN KEY (client_id, environment) REFERENCES environments ON DELETE CASCADE
);
CREATE INDEX api_keys_tenant ON api_keys (client_id, environment, created_at);

CREATE TABLE orgs (
    client_id            uuid NOT NULL,
    environment          text NOT NULL,
    org_id               text NOT NULL,
    emr_name             text,
    emr_instance_domain  text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, environment, org_id),
    FOREIGN KEY (client_id, environment) REFERENCES environments ON DELETE CASCADE
);

CREATE TABLE linked_accounts (
    client_id          uuid NOT NULL,
    environment        text NOT NULL,
    linked_account_id  text NOT NULL,
    name               text,
    metadata           jsonb NOT NULL DEFAULT '{}',
    org_id             text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, environment, linked_account_id),
    FOREIGN KEY (client_id, environment) REFERENCES environments ON DELETE CASCADE,
    FOREIGN KEY (client_id, environment, org_id) REFERENCES orgs
);
CREATE INDEX linked_accounts_org ON linked_accounts (client_id, environment, org_id);

CREATE TABLE connections (
    id                 uuid PRIMARY KEY,
    client_id          uuid NOT NULL,
    environment        text NOT NULL,
    linked_account_id  text NOT NULL,
    app                text NOT NULL,
    status             text NOT NULL CHECK (status IN ('active', 'needs_reauth', 'disconnected')),
    status_reason      text,
    -- SHA-256 of the connection's access token (at_…), issued by the public-token exchange.
    access_token_hash  bytea UNIQUE,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, environment, linked_account_id, app),
    FOREIGN KEY (client_id, environment, linked_account_id)
        REFERENCES linked_accounts ON DELETE CASCADE
);
