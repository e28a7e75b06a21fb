-- Webhook endpoints registered through the EMR API's face (POST /v1/webhook) receive that
-- API's body and headers (cobalt-verification, ISO webhook-timestamp, webhook-attempt).
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_format_check;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_format_check
    CHECK (format IN ('standard', 'gocobalt', 'vital', 'emr'));
