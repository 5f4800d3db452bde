-- Retention on schedule: an election's records are kept until its records period ends
-- (records_until; by default 22 months after election day, 52 U.S.C. 20701), then the daily
-- retention purge removes the personal data tied to the election and keeps its counts and
-- the audit log. What is purged and why is in the README ("Data retention").

-- records_until is the last day the election's records are kept whole; the purge takes the
-- election on a later day (UTC). It is the records period a state chose for the election
-- (chosen_records_until) or, when it chose none, election day plus 22 months counted so that
-- the period is never shortened (Apr 30 + 22 months is Mar 1, not Feb 28), and never before
-- the day the canvass ends: a corrected election day moves a default period with it. A
-- release that knows nothing of records periods still saves elections.
CREATE FUNCTION default_records_until(election_day date, canvass_ends_at timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT greatest(
        (date_trunc('month', election_day::timestamp) + interval '22 months')::date + (extract(day FROM election_day)::int - 1),
        (canvass_ends_at AT TIME ZONE 'UTC')::date) $$;
ALTER TABLE elections ADD COLUMN chosen_records_until date;
ALTER TABLE elections ADD CONSTRAINT elections_records_after_canvass
    CHECK (chosen_records_until >= (canvass_ends_at AT TIME ZONE 'UTC')::date);
ALTER TABLE elections ADD COLUMN records_until date NOT NULL
    GENERATED ALWAYS AS (coalesce(chosen_records_until, default_records_until(election_day, canvass_ends_at))) STORED;
-- When the purge began (exports are refused from then on) and when it finished.
ALTER TABLE elections ADD COLUMN purge_started_at timestamptz;
ALTER TABLE elections ADD COLUMN purged_at timestamptz;

-- A purged ballot keeps its election, county, status and history (the counts), and loses
-- what ties it to a voter: the voter's row and the county's envelope number.
ALTER TABLE ballots ALTER COLUMN voter_ref DROP NOT NULL;
ALTER TABLE ballots ALTER COLUMN ballot_id DROP NOT NULL;
-- A purged delivery keeps its channel, notice, state, attempts and times.
ALTER TABLE deliveries ALTER COLUMN voter_ref DROP NOT NULL;

-- The purge and the records export walk an election's ballots in id order, a page at a time.
CREATE INDEX ballots_election_ref ON ballots (election_id, id);

---- create above / drop below ----

DROP INDEX ballots_election_ref;
-- Purged rows cannot get their voter back: a schema with purged elections cannot go down.
ALTER TABLE deliveries ALTER COLUMN voter_ref SET NOT NULL;
ALTER TABLE ballots ALTER COLUMN ballot_id SET NOT NULL;
ALTER TABLE ballots ALTER COLUMN voter_ref SET NOT NULL;
ALTER TABLE elections DROP COLUMN purged_at;
ALTER TABLE elections DROP COLUMN purge_started_at;
ALTER TABLE elections DROP COLUMN records_until;
ALTER TABLE elections DROP CONSTRAINT elections_records_after_canvass;
ALTER TABLE elections DROP COLUMN chosen_records_until;
DROP FUNCTION default_records_until(date, timestamptz);
