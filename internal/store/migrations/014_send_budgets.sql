-- What each provider account may still be sent this moment, shared by every worker: one
-- token bucket per channel. A worker leases a fifth of a second's worth of sends at a time
-- (activities.Budget) and spends them before they go stale, so EMAIL_RATE, SMS_RATE and
-- VOICE_RATE hold across all workers for sends made from local activities, which the task
-- queues' server-side rate limits never see. A bucket starts empty and fills at the rate the
-- leasing worker names; it never holds more than the burst the worker names.
CREATE TABLE send_budgets (
    channel     text             PRIMARY KEY CHECK (channel IN ('email', 'sms', 'voice')),
    tokens      double precision NOT NULL CHECK (tokens >= 0),
    refilled_at timestamptz      NOT NULL
);
INSERT INTO send_budgets (channel, tokens, refilled_at)
VALUES ('email', 0, now()), ('sms', 0, now()), ('voice', 0, now());

---- create above / drop below ----

DROP TABLE send_budgets;
