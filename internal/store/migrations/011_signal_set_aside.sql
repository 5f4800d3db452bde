-- Events whose signal can never succeed as they are (Temporal refused it as invalid, the
-- election's canvass is over) are set aside with a reason instead of blocking the re-signal
-- sweeper; operators list them at GET /v1/operator/set-aside-events. A signal that failed for
-- a reason that may pass is tried again after a backoff (next_signal_at), not on every sweep.
ALTER TABLE ballot_events ADD COLUMN signal_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE ballot_events ADD COLUMN next_signal_at timestamptz;
ALTER TABLE ballot_events ADD COLUMN set_aside_at timestamptz;
ALTER TABLE ballot_events ADD COLUMN set_aside_reason text;
CREATE INDEX ballot_events_set_aside ON ballot_events (set_aside_at, id) WHERE set_aside_at IS NOT NULL;
DROP INDEX ballot_events_unsignaled;
CREATE INDEX ballot_events_unsignaled ON ballot_events (received_at)
    WHERE signaled_at IS NULL AND import_id IS NULL AND set_aside_at IS NULL;

-- Why an import failed (the upload broke off, or the process loading it stopped), for
-- GET /v1/imports/{id}.
ALTER TABLE imports ADD COLUMN failure_reason text;

---- create above / drop below ----

ALTER TABLE imports DROP COLUMN failure_reason;
DROP INDEX ballot_events_unsignaled;
CREATE INDEX ballot_events_unsignaled ON ballot_events (received_at) WHERE signaled_at IS NULL AND import_id IS NULL;
DROP INDEX ballot_events_set_aside;
ALTER TABLE ballot_events DROP COLUMN set_aside_reason;
ALTER TABLE ballot_events DROP COLUMN set_aside_at;
ALTER TABLE ballot_events DROP COLUMN next_signal_at;
ALTER TABLE ballot_events DROP COLUMN signal_attempts;
