-- Reminders a county sends for an election (issue 15): to voters whose mailed ballot has not
-- come back, return_days days before election day; to voters whose ballot is challenged,
-- cure_days days before the cure deadline. Both at remind_at in the county's time zone, then
-- in each voter's contact hours. Empty arrays (the default, and no row at all) send none.
-- returns_close is the local time on election day by which ballots must be in.
CREATE TABLE election_reminders (
    election_id     text    NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    jurisdiction_id text    NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    return_days     integer[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(return_days) <= 5 AND 1 <= ALL (return_days) AND 60 >= ALL (return_days)),
    cure_days       integer[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(cure_days) <= 5 AND 1 <= ALL (cure_days) AND 30 >= ALL (cure_days)),
    returns_close   time    NOT NULL DEFAULT '19:00',
    remind_at       time    NOT NULL DEFAULT '10:00',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text    NOT NULL,
    PRIMARY KEY (election_id, jurisdiction_id)
);

---- create above / drop below ----

DROP TABLE election_reminders;
