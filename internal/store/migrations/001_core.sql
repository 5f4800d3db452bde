-- The core tables of ballotflow. Voters' personal data lives only in voters and
-- subscriptions; every other table refers to a voter by its internal id.

CREATE TABLE jurisdictions (
    id              text PRIMARY KEY,              -- "<state>-<county>", e.g. "co-denver"
    state           text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
    county          text NOT NULL CHECK (county ~ '^[a-z0-9][a-z0-9_-]*$'),
    name            text NOT NULL,
    time_zone       text NOT NULL,                 -- IANA, the default for voters who chose none
    email_from      text NOT NULL,
    email_from_name text NOT NULL,
    sms_from        text NOT NULL,                 -- E.164
    voice_from      text NOT NULL,                 -- E.164
    help_text       text NOT NULL,                 -- answer to HELP and footer of every notice
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (state, county)
);

CREATE TABLE elections (
    id              text PRIMARY KEY,              -- e.g. "2026-11-03-general"
    state           text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
    name            text NOT NULL,
    election_day    date NOT NULL,
    canvass_ends_at timestamptz NOT NULL,          -- ballot workflows still open then are closed
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (canvass_ends_at > election_day)
);

CREATE TABLE voters (
    id              bigserial PRIMARY KEY,         -- internal reference; never leaves the engine
    state           text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
    voter_id        text NOT NULL,                 -- the state's registration number
    county          text NOT NULL,
    first_name      text NOT NULL,
    middle_name     text NOT NULL DEFAULT '',
    last_name       text NOT NULL,
    suffix          text NOT NULL DEFAULT '',
    date_of_birth   date NOT NULL,
    residential_zip text NOT NULL CHECK (residential_zip ~ '^[0-9]{5}$'),
    status          text NOT NULL CHECK (status IN ('active', 'inactive', 'canceled', 'pending')),
    confidential    boolean NOT NULL DEFAULT false,
    uocava          boolean NOT NULL DEFAULT false,
    language        text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'es')),
    email           text,
    phone           text,
    -- Folded (case, spacing, accents) names for the portal's exact lookup.
    lookup_first    text NOT NULL,
    lookup_last     text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (state, voter_id),
    FOREIGN KEY (state, county) REFERENCES jurisdictions (state, county)
);

-- The portal finds voters by exactly these four facts; confidential voters are never findable.
CREATE INDEX voters_portal_lookup ON voters (lookup_last, date_of_birth, residential_zip, lookup_first)
    WHERE NOT confidential;

CREATE TABLE subscriptions (
    id              bigserial PRIMARY KEY,
    voter_ref       bigint NOT NULL REFERENCES voters (id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN ('email', 'sms', 'voice')),
    address         text NOT NULL,
    state           text NOT NULL CHECK (state IN ('pending', 'active', 'opted_out', 'bounced')),
    source          text NOT NULL CHECK (source IN ('auto_enrolled', 'portal', 'county_assisted', 'migrated')),
    -- Contact hours; NULL means the default (08:00-20:00 in the jurisdiction's time zone).
    contact_start   time,
    contact_end     time,
    time_zone       text,
    -- Email is sent at once unless the voter asked that it too wait for contact hours.
    hold_for_hours  boolean NOT NULL DEFAULT false,
    language        text CHECK (language IN ('en', 'es')),
    consented_at    timestamptz,
    confirmed_at    timestamptz,
    opted_out_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (voter_ref, channel),
    CHECK ((contact_start IS NULL) = (contact_end IS NULL))
);

CREATE TABLE ballots (
    id              bigserial PRIMARY KEY,
    key             text NOT NULL UNIQUE,          -- opaque; the only ballot name Temporal sees
    jurisdiction_id text NOT NULL REFERENCES jurisdictions (id),
    election_id     text NOT NULL REFERENCES elections (id),
    ballot_id       text NOT NULL,                 -- the county's own ballot number
    voter_ref       bigint NOT NULL REFERENCES voters (id),
    status          text,                          -- as decided by the ballot workflow
    status_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (jurisdiction_id, election_id, ballot_id)
);
CREATE INDEX ballots_voter ON ballots (voter_ref);

-- Every county event as received. Append-only; event_id is unique per jurisdiction.
CREATE TABLE ballot_events (
    id              bigserial PRIMARY KEY,
    jurisdiction_id text NOT NULL REFERENCES jurisdictions (id),
    event_id        text NOT NULL,
    ballot_ref      bigint NOT NULL REFERENCES ballots (id),
    status          text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    reason          text NOT NULL DEFAULT '',
    cure_deadline   date,
    received_at     timestamptz NOT NULL DEFAULT now(),
    received_by     bigint,                        -- api_keys.id
    -- Set once Temporal has the signal. Rows left NULL by a crash are signaled again.
    signaled_at     timestamptz,
    UNIQUE (jurisdiction_id, event_id)
);
CREATE INDEX ballot_events_ballot ON ballot_events (ballot_ref, occurred_at);
CREATE INDEX ballot_events_unsignaled ON ballot_events (received_at) WHERE signaled_at IS NULL;

-- One row per (ballot, notice, channel). Written before a provider is called, so a retried
-- activity can tell "accepted already" from "never reached the provider".
CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    ballot_ref      bigint NOT NULL REFERENCES ballots (id),
    voter_ref       bigint NOT NULL REFERENCES voters (id),
    notice_status   text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'sms', 'voice')),
    state           text NOT NULL CHECK (state IN ('sending', 'accepted', 'delivered', 'failed', 'skipped')),
    provider_id     text,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_ballot ON deliveries (ballot_ref);
CREATE UNIQUE INDEX deliveries_provider_id ON deliveries (channel, provider_id) WHERE provider_id IS NOT NULL;

-- Provider callbacks (Twilio status, SendGrid events) for a delivery, as received.
CREATE TABLE delivery_events (
    id              bigserial PRIMARY KEY,
    delivery_ref    bigint NOT NULL REFERENCES deliveries (id),
    status          text NOT NULL,
    detail          text NOT NULL DEFAULT '',
    occurred_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id              bigserial PRIMARY KEY,
    prefix          text NOT NULL UNIQUE,          -- public part of the key, for lookup and logs
    secret_hash     bytea NOT NULL,                -- SHA-256 of the secret part
    role            text NOT NULL CHECK (role IN ('county', 'state', 'operator')),
    state           text,
    county          text,
    label           text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz,
    CHECK (role <> 'county' OR (state IS NOT NULL AND county IS NOT NULL)),
    CHECK (role <> 'state' OR (state IS NOT NULL AND county IS NULL))
);

CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    actor           text NOT NULL,                 -- "key:<prefix>", "cli", "portal", "provider:twilio"
    action          text NOT NULL,
    subject         text NOT NULL DEFAULT '',      -- internal ids only, never personal data
    detail          jsonb NOT NULL DEFAULT '{}'
);

---- create above / drop below ----

DROP TABLE audit_log;
DROP TABLE api_keys;
DROP TABLE delivery_events;
DROP TABLE deliveries;
DROP TABLE ballot_events;
DROP TABLE ballots;
DROP TABLE subscriptions;
DROP TABLE voters;
DROP TABLE elections;
DROP TABLE jurisdictions;
