-- The operators' reports (issue 7): counts by status and county, status over time and
-- unreachable voters read every ballot of one election, optionally of one county.
CREATE INDEX ballots_election ON ballots (election_id, jurisdiction_id, status);

---- create above / drop below ----

DROP INDEX ballots_election;
