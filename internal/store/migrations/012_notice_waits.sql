-- Notices a ballot workflow holds for the voter's contact hours (a text planned at night
-- waits until 08:00). The workflow writes the set when it changes, through local activities
-- it already runs, and a delivery removes its row when it starts; the worker reads the count
-- by channel for the "notices waiting" gauge. Nothing here is personal: a ballot, a notice
-- number, a channel, a time.
CREATE TABLE notice_waits (
    ballot_ref  bigint      NOT NULL REFERENCES ballots (id) ON DELETE CASCADE,
    notice_seq  integer     NOT NULL CHECK (notice_seq >= 1),
    channel     text        NOT NULL CHECK (channel IN ('email', 'sms', 'voice')),
    due_at      timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ballot_ref, notice_seq, channel)
);
-- The sweep of rows a workflow can no longer remove (terminated or reset by an operator).
CREATE INDEX notice_waits_due ON notice_waits (due_at);

---- create above / drop below ----

DROP TABLE notice_waits;
