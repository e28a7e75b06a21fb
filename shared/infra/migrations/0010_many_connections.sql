-- Several connections to one app per linked account (two Slack workspaces, say): each is
-- addressed by its id. Reconnecting the same provider account updates its connection; a
-- config may pin the connection its workflows use (else the newest active one).
ALTER TABLE connections
    DROP CONSTRAINT connections_client_id_environment_linked_account_id_app_key;

-- The account's connections to an app, newest first: fan-out's "newest active" pick, the
-- listings, and the linked-account foreign key's cascade all read this prefix.
CREATE INDEX connections_account_app
    ON connections (client_id, environment, linked_account_id, app, created_at DESC);

-- Reconnecting: the account's connection to the same provider account of that app.
CREATE INDEX connections_provider_account
    ON connections (client_id, environment, linked_account_id, app, provider_account_id)
    WHERE provider_account_id IS NOT NULL;

-- A deleted connection unpins: its configs fall back to the newest active one.
ALTER TABLE configs
    ADD COLUMN connection_id uuid REFERENCES connections (id) ON DELETE SET NULL;
CREATE INDEX configs_connection ON configs (connection_id) WHERE connection_id IS NOT NULL;
