-- Bulk ballot event imports (issue 5): a county's or state's file of events (a mail-out day)
-- is stored with COPY and then signaled by an IngestEvents workflow at a controlled rate.
-- An import that would move many ballots backwards is held for an operator instead.

CREATE TABLE imports (
    id              bigserial PRIMARY KEY,         -- public: GET /v1/imports/{id}, workflow import/<id>
    kind            text NOT NULL CHECK (kind IN ('ballot_events')),
    state           text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
    county          text,                          -- NULL for a state key's import
    actor           text NOT NULL,                 -- "key:<prefix>" or "cli:<user>"
    status          text NOT NULL DEFAULT 'loading'
                    CHECK (status IN ('loading', 'checking', 'held', 'signaling', 'done', 'rejected', 'failed')),
    rows            integer NOT NULL DEFAULT 0,    -- data rows read from the file
    accepted        integer NOT NULL DEFAULT 0,    -- events stored for this import to signal
    duplicates      integer NOT NULL DEFAULT 0,    -- events recorded before with the same content
    rejected        integer NOT NULL DEFAULT 0,    -- bad rows, reused event ids, other counties' voters
    signaled        integer NOT NULL DEFAULT 0,    -- events delivered to their ballot workflows
    backwards       integer NOT NULL DEFAULT 0,    -- events older than their ballot's current status
    inconsistent    integer NOT NULL DEFAULT 0,    -- events after a final status, cured without a challenge
    decided_by      text,                          -- the operator who approved or rejected a held import
    decided_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (county IS NULL OR county ~ '^[a-z0-9][a-z0-9_-]*$')
);
CREATE INDEX imports_state ON imports (state, county, id);

-- The first rejections of an import, by line and field; never a row's data.
CREATE TABLE import_rejections (
    import_id       bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line            integer NOT NULL,
    field           text NOT NULL DEFAULT '',
    code            text NOT NULL,
    reason          text NOT NULL
);
CREATE INDEX import_rejections_import ON import_rejections (import_id, line);

-- Events of an import wait for its workflow (signaled_at NULL); the re-signal sweeper, which
-- is for single posts whose signal was lost, leaves them alone. discarded_at marks the events
-- of an import an operator rejected: they stay recorded and are never signaled.
ALTER TABLE ballot_events ADD COLUMN import_id bigint REFERENCES imports (id);
ALTER TABLE ballot_events ADD COLUMN discarded_at timestamptz;
CREATE INDEX ballot_events_import ON ballot_events (import_id, id) WHERE import_id IS NOT NULL;
DROP INDEX ballot_events_unsignaled;
CREATE INDEX ballot_events_unsignaled ON ballot_events (received_at) WHERE signaled_at IS NULL AND import_id IS NULL;

---- create above / drop below ----

DROP INDEX ballot_events_unsignaled;
CREATE INDEX ballot_events_unsignaled ON ballot_events (received_at) WHERE signaled_at IS NULL;
DROP INDEX ballot_events_import;
ALTER TABLE ballot_events DROP COLUMN discarded_at;
ALTER TABLE ballot_events DROP COLUMN import_id;
DROP TABLE import_rejections;
DROP TABLE imports;
