-- The voter portal (issue 6): session tokens, lookup rate limits shared by every API replica,
-- email confirmation links, and the history of the statuses a ballot moved through, so the
-- portal shows a timeline without asking Temporal.

-- A portal session. Only the SHA-256 of its token is stored.
CREATE TABLE portal_sessions (
    id              bigserial PRIMARY KEY,
    token_hash      bytea NOT NULL UNIQUE,
    voter_ref       bigint NOT NULL REFERENCES voters (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz
);
CREATE INDEX portal_sessions_expires ON portal_sessions (expires_at);

-- Fixed-window counters of portal lookups, per client and per identity. The bucket is a
-- SHA-256 (of the client address, or of the folded name, date of birth and ZIP): no personal
-- data in clear. Rows of past windows are pruned.
CREATE TABLE portal_rate_limits (
    bucket          bytea NOT NULL,
    window_start    timestamptz NOT NULL,
    hits            integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX portal_rate_limits_window ON portal_rate_limits (window_start);

-- A link sent to confirm a new email address. Only the SHA-256 of its token is stored; a
-- link works once, before it expires, while its subscription is still pending.
CREATE TABLE email_confirmations (
    token_hash      bytea PRIMARY KEY,
    subscription_ref bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX email_confirmations_subscription ON email_confirmations (subscription_ref);

-- When a confirmation (text or email) was last asked for; a pending channel saved again
-- after a while is sent a new one, as voters who got none are told to do.
ALTER TABLE subscriptions ADD COLUMN confirm_requested_at timestamptz;

-- Every status the ballot workflow moved a ballot to, as recorded by SetBallotStatus.
CREATE TABLE ballot_status_history (
    id              bigserial PRIMARY KEY,
    ballot_ref      bigint NOT NULL REFERENCES ballots (id),
    status          text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ballot_ref, status, occurred_at)
);

-- Ballots recorded before this table existed start their history with their current status.
INSERT INTO ballot_status_history (ballot_ref, status, occurred_at)
SELECT id, status, status_at FROM ballots WHERE status IS NOT NULL AND status_at IS NOT NULL;

---- create above / drop below ----

DROP TABLE ballot_status_history;
ALTER TABLE subscriptions DROP COLUMN confirm_requested_at;
DROP TABLE email_confirmations;
DROP TABLE portal_rate_limits;
DROP TABLE portal_sessions;
