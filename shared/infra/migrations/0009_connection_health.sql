-- Connection health: more statuses, when the status last changed, the proactive refresh's
-- bookkeeping, and the revocations owed to providers for deleted connections.

-- revoked: the provider says the user withdrew the grant; error: refreshing the token keeps
-- failing for network or server reasons (back to active on the next success).
ALTER TABLE connections DROP CONSTRAINT connections_status_check;
ALTER TABLE connections ADD CONSTRAINT connections_status_check
    CHECK (status IN ('active', 'needs_reauth', 'revoked', 'error', 'disconnected'));

ALTER TABLE connections ADD COLUMN status_changed_at timestamptz;
UPDATE connections SET status_changed_at = updated_at;
ALTER TABLE connections ALTER COLUMN status_changed_at SET DEFAULT now();
ALTER TABLE connections ALTER COLUMN status_changed_at SET NOT NULL;
-- Refreshes that failed in a row for network or server reasons (the count belongs to the
-- tokens it failed to refresh: new tokens start again from 0).
ALTER TABLE connections ADD COLUMN refresh_failures integer NOT NULL DEFAULT 0;
-- The refresh cron leaves the connection alone until then (it just tried, or cannot refresh
-- it); NULL: whenever its token nears expiry.
ALTER TABLE connections ADD COLUMN refresh_not_before timestamptz;

-- One place for both facts, whichever statement changes a connection (a refresh, Link
-- again, a status change): a status change is dated, and new tokens (a new expiry) clear
-- the refresh bookkeeping of the old ones. Re-sealing the same tokens under a new key
-- (linkport reencrypt) changes no expiry, and so clears nothing.
CREATE FUNCTION linkport_connection_health() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        NEW.status_changed_at := now();
    END IF;
    IF NEW.credentials_expires_at IS DISTINCT FROM OLD.credentials_expires_at THEN
        NEW.refresh_failures := 0;
        NEW.refresh_not_before := NULL;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER connections_health BEFORE UPDATE ON connections
    FOR EACH ROW EXECUTE FUNCTION linkport_connection_health();

-- The refresh cron's scan: usable connections by expiry.
CREATE INDEX connections_refresh_due ON connections (credentials_expires_at)
    WHERE status IN ('active', 'error') AND credentials_expires_at IS NOT NULL;

-- A deleted connection's credentials, kept (sealed as they were, bound to the connection's
-- id) until its provider has revoked them (RFC 7009). Written in the transaction that
-- deletes the connection, so a crash between the delete and the revocation loses nothing;
-- removed once revoked, or given up after the last attempt. No foreign key: it outlives
-- the connection by design.
CREATE TABLE connection_revocations (
    connection_id      uuid PRIMARY KEY,
    client_id          uuid NOT NULL,
    environment        text NOT NULL,
    app                text NOT NULL,
    fields             jsonb NOT NULL DEFAULT '{}',
    credentials        bytea NOT NULL,
    credentials_nonce  bytea NOT NULL,
    credentials_key_id text NOT NULL,
    attempts           integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    last_error         text,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connection_revocations_due ON connection_revocations (next_attempt_at);
