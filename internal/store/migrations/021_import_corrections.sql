-- Correcting a whole import (issue 15): an operator says that an import of ballot events was
-- the wrong file. A new import of kind 'corrections' holds one correction per event of it
-- (ballot_events.corrects), and its workflow holds it for an operator's decision, with a
-- preview of who would be told what, as the wrong-file guardrail does.
ALTER TABLE imports DROP CONSTRAINT imports_kind_check;
ALTER TABLE imports ADD CONSTRAINT imports_kind_check CHECK (kind IN ('ballot_events', 'corrections'));
ALTER TABLE imports ADD COLUMN corrects_import bigint REFERENCES imports (id);

-- Finding whether an event was corrected already, without reading every event.
CREATE INDEX ballot_events_corrects ON ballot_events (jurisdiction_id, corrects) WHERE corrects IS NOT NULL;

---- create above / drop below ----

DROP INDEX ballot_events_corrects;
ALTER TABLE imports DROP COLUMN corrects_import;
ALTER TABLE imports DROP CONSTRAINT imports_kind_check;
ALTER TABLE imports ADD CONSTRAINT imports_kind_check CHECK (kind IN ('ballot_events'));
