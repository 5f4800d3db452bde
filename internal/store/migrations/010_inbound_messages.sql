-- Inbound texts already acted on, by Twilio's MessageSid. Twilio's signature carries no
-- timestamp, so a captured signed request (a STOP, a YES) stays valid forever; a sid seen
-- before is answered without acting again. Rows older than the retention
-- (store.InboundMessageRetention) are pruned by the API processes: a replay older than that
-- is the one that would act again, so the retention outlasts an election cycle.
CREATE TABLE inbound_messages (
    provider     text NOT NULL,
    message_sid  text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, message_sid)
);
CREATE INDEX inbound_messages_received_at ON inbound_messages (received_at);

---- create above / drop below ----

DROP TABLE inbound_messages;
