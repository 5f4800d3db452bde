-- Limits that keep the portal from being used against voters and strangers ("Election night
-- under attack"): a secret that keys every hash of a rate-limit bucket or a contact address,
-- a record of every confirmation asked for (to count them per session, voter and address),
-- and sessions that end for good when their voter stops being allowed to sign in.

-- One random secret per database, shared by every API replica. Rate-limit buckets and
-- confirmation destinations are stored as sha256(secret || sha256(value)), so those tables
-- never hold a name, ZIP, address or phone number, nor a hash that could be reversed by
-- hashing every name or every phone number. gen_random_uuid() draws from the server's
-- strong random source; four of them give 488 random bits.
CREATE TABLE hash_secret (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    secret          bytea NOT NULL
);
INSERT INTO hash_secret (secret)
SELECT sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text
    || gen_random_uuid()::text, 'UTF8'));

-- keyed_hash is the stored form of a value the caller already hashed with SHA-256.
CREATE FUNCTION keyed_hash(value_sha256 bytea) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT sha256(secret || value_sha256) FROM hash_secret $$;

-- Buckets stored before the secret existed are unkeyed: forget them.
DELETE FROM portal_rate_limits;

-- One row per confirmation message asked for (a text to reply YES to, an email with a link).
-- The rows count confirmations per session, per voter and per destination; the newest row
-- of a subscription is the one confirmation a ConfirmContact workflow may deliver.
CREATE TABLE confirmation_sends (
    id              bigserial PRIMARY KEY,
    subscription_ref bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    voter_ref       bigint NOT NULL REFERENCES voters (id) ON DELETE CASCADE,
    session_ref     bigint REFERENCES portal_sessions (id) ON DELETE SET NULL,
    channel         text NOT NULL,
    destination     bytea NOT NULL, -- keyed_hash of the address (lowercase email, E.164 phone)
    requested_at    timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,           -- the workflow whose activity is delivering it
    claimed_at      timestamptz,
    delivered_at    timestamptz
);
CREATE INDEX confirmation_sends_subscription ON confirmation_sends (subscription_ref, id);
CREATE INDEX confirmation_sends_voter ON confirmation_sends (voter_ref, requested_at);
CREATE INDEX confirmation_sends_session ON confirmation_sends (session_ref, requested_at);
CREATE INDEX confirmation_sends_destination ON confirmation_sends (destination, requested_at);
CREATE INDEX confirmation_sends_requested ON confirmation_sends (requested_at);

-- One row per destination ever asked to confirm, locked by a save that asks it again, so
-- that saves of different voters that name the same address count one after the other.
CREATE TABLE confirmation_destinations (
    destination     bytea PRIMARY KEY,
    last_requested_at timestamptz NOT NULL
);

-- A voter who becomes confidential, inactive, canceled or pending loses every portal
-- session at once and for good: a session must not come back to life if the change is
-- undone. A trigger catches every way a voter row changes (roll import, operator, SQL).
CREATE INDEX portal_sessions_voter ON portal_sessions (voter_ref) WHERE revoked_at IS NULL;

CREATE FUNCTION revoke_portal_sessions_of_ineligible_voter() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE portal_sessions SET revoked_at = now() WHERE voter_ref = NEW.id AND revoked_at IS NULL;
    RETURN NULL;
END $$;

-- Only a change into ineligibility fires it: a roll sync rewrites millions of rows, and an
-- already ineligible voter has no session to revoke (sessions are created only for eligible
-- voters, under a lock on the voter's row).
CREATE TRIGGER voters_revoke_portal_sessions
    AFTER UPDATE OF status, confidential ON voters
    FOR EACH ROW WHEN ((NEW.confidential AND NOT OLD.confidential) OR (NEW.status <> 'active' AND OLD.status = 'active'))
    EXECUTE FUNCTION revoke_portal_sessions_of_ineligible_voter();

UPDATE portal_sessions p SET revoked_at = now()
FROM voters v WHERE v.id = p.voter_ref AND p.revoked_at IS NULL AND (v.confidential OR v.status <> 'active');

---- create above / drop below ----

DROP TRIGGER voters_revoke_portal_sessions ON voters;
DROP FUNCTION revoke_portal_sessions_of_ineligible_voter();
DROP INDEX portal_sessions_voter;
DROP TABLE confirmation_destinations;
DROP TABLE confirmation_sends;
DROP FUNCTION keyed_hash(bytea);
DROP TABLE hash_secret;
