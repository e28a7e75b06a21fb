-- Webhook endpoints registered through the EMR API's face (POST /v1/webhook) receive that
-- API's body and headers (cobalt-verification, ISO webhook-timestamp, webhook-attempt).
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_format_check;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_format_check
    CHECK (format IN ('standard', 'gocobalt', 'vital', 'emr'));

-- Messages older than LINKPORT_WEBHOOK_RETENTION_DAYS are pruned (with their deliveries and
-- attempts) once nothing is left to send; this finds them without a scan.
CREATE INDEX webhook_messages_created ON webhook_messages (created_at);
