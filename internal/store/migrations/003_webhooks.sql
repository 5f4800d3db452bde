-- Provider webhooks (issue 4): provider callbacks are deduplicated by the provider's own event
-- id (SendGrid sg_event_id; "<sid>:<status>" for Twilio), so a callback posted twice is stored
-- once.
ALTER TABLE delivery_events ADD COLUMN provider_event_id text;
CREATE UNIQUE INDEX delivery_events_provider_event ON delivery_events (delivery_ref, provider_event_id);

-- Inbound SMS keywords and bounces find every voter on a phone number or email address
-- (households share both); email addresses compare without case.
CREATE INDEX subscriptions_address ON subscriptions (channel, lower(address));

---- create above / drop below ----

DROP INDEX subscriptions_address;
DROP INDEX delivery_events_provider_event;
ALTER TABLE delivery_events DROP COLUMN provider_event_id;
