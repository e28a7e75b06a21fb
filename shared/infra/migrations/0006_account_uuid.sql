-- A UUID per linked account, for APIs whose user ids are UUIDs (Vital's user_id), and the
-- profile such an API keeps about the person (Vital's fallback time zone and birth date, its
-- ingestion window). The UUID is derived from the account's id (uuid5, see
-- shared/accounts/models.py account_uuid), so webhooks can name it without a lookup. New
-- accounts are stored with it; older rows (and rows inserted by hand) get theirs the first
-- time a lookup by UUID misses.
ALTER TABLE linked_accounts
    ADD COLUMN account_uuid uuid,
    ADD COLUMN profile jsonb NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX linked_accounts_uuid ON linked_accounts (client_id, environment, account_uuid);
-- Finding the rows still without one is cheap when there are none.
CREATE INDEX linked_accounts_without_uuid ON linked_accounts (client_id, environment)
    WHERE account_uuid IS NULL;
