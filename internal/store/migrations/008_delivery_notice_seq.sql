-- The number of the notice a delivery carries (1 for a ballot's first notice), stored rather
-- than read back out of the idempotency key's format.
ALTER TABLE deliveries ADD COLUMN notice_seq integer NOT NULL DEFAULT 0;
UPDATE deliveries SET notice_seq = split_part(idempotency_key, '/', 2)::integer
    WHERE split_part(idempotency_key, '/', 2) ~ '^[0-9]{1,9}$';
CREATE INDEX deliveries_ballot_seq ON deliveries (ballot_ref, notice_seq);

---- create above / drop below ----

DROP INDEX deliveries_ballot_seq;
ALTER TABLE deliveries DROP COLUMN notice_seq;
