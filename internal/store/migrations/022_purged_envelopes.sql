-- Elections purged by a release whose purge did not yet remove the ballots' envelopes and
-- their USPS scans (issue 15): remove them now, as the purge does today. An election whose
-- purge began but did not finish is left to the purge, which finishes it only once they are
-- gone.
DELETE FROM mail_scans s USING ballots b, elections e
WHERE s.ballot_ref = b.id AND b.election_id = e.id AND e.purged_at IS NOT NULL;

DELETE FROM mail_barcodes m USING elections e
WHERE m.election_id = e.id AND e.purged_at IS NOT NULL;

UPDATE ballot_events ev SET outbound_imb = NULL, return_imb = NULL
FROM ballots b, elections e
WHERE ev.ballot_ref = b.id AND b.election_id = e.id AND e.purged_at IS NOT NULL
    AND (ev.outbound_imb IS NOT NULL OR ev.return_imb IS NOT NULL);

---- create above / drop below ----

-- Nothing to put back: purged data does not return.
SELECT 1;
