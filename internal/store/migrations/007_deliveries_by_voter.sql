-- A voter's recent deliveries on a channel: a handset that has been unreachable for several
-- notices in a row bounces, one that was switched off for a day does not.
CREATE INDEX deliveries_voter_channel ON deliveries (voter_ref, channel, created_at);

---- create above / drop below ----

DROP INDEX deliveries_voter_channel;
