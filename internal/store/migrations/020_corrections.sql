-- Corrections (issue 15): a county or an operator says a status event was posted in error
-- and gives the right status. A correction is stored as an event of its own, naming the
-- event it corrects (an event_id of the same jurisdiction); its status is the right one, or
-- '' for "the status the ballot had before".
ALTER TABLE ballot_events ADD COLUMN corrects text;

-- The status history keeps a status posted in error, marked with when it was corrected,
-- and the correction's move, marked as one: the portal and the operators show both, and
-- reports count the ballot at its right status.
ALTER TABLE ballot_status_history ADD COLUMN corrected_at timestamptz;
ALTER TABLE ballot_status_history ADD COLUMN correction boolean NOT NULL DEFAULT false;

---- create above / drop below ----

ALTER TABLE ballot_status_history DROP COLUMN correction;
ALTER TABLE ballot_status_history DROP COLUMN corrected_at;
ALTER TABLE ballot_events DROP COLUMN corrects;
