-- USPS Intelligent Mail tracking (issue 15). A county gives each ballot envelope's
-- Intelligent Mail barcode (outbound, and the return envelope inside it) with the "mailed"
-- event; USPS Informed Visibility (IV-MTR) scans of those envelopes are matched to the
-- ballot and kept, so the voter can hear "in transit" and "on its way back".
--
-- Only the barcode's tracking code (barcode ID, service type, mailer ID, serial number) is
-- kept: the routing code of an outbound envelope is the voter's ZIP+4 and delivery point, an
-- address, and is dropped when the barcode is read. Scans of barcodes no ballot has are
-- counted, never stored.

-- The tracking codes a "mailed" event gave, so that posting the event again with other
-- barcodes is a conflict, not a duplicate. NOT VALID: the columns are new, and checking a
-- mail-out season of events would hold the table locked for nothing.
ALTER TABLE ballot_events ADD COLUMN outbound_imb text;
ALTER TABLE ballot_events ADD COLUMN return_imb text;
ALTER TABLE ballot_events ADD CONSTRAINT ballot_events_outbound_imb CHECK (outbound_imb ~ '^[0-9]{20}$') NOT VALID;
ALTER TABLE ballot_events ADD CONSTRAINT ballot_events_return_imb CHECK (return_imb ~ '^[0-9]{20}$') NOT VALID;

-- Each envelope a ballot was mailed with. piece_key is what a scan is matched on: the
-- tracking code without its barcode ID (service type, mailer ID, serial number), which a
-- mailer keeps unique for 45 days, so per county and election.
CREATE TABLE mail_barcodes (
    id              bigserial PRIMARY KEY,
    jurisdiction_id text NOT NULL REFERENCES jurisdictions (id),
    election_id     text NOT NULL REFERENCES elections (id),
    piece_key       text NOT NULL CHECK (piece_key ~ '^[0-9]{18}$'),
    ballot_ref      bigint NOT NULL REFERENCES ballots (id),
    direction       text NOT NULL CHECK (direction IN ('outbound', 'return')),
    event_ref       bigint NOT NULL REFERENCES ballot_events (id),
    mailed_at       timestamptz NOT NULL,          -- the mailed event's occurred_at
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (jurisdiction_id, piece_key, election_id)
);
CREATE INDEX mail_barcodes_ballot ON mail_barcodes (ballot_ref);

-- Scans of known envelopes, once each: the same scan sent again (in a file and in a push,
-- or in two files) is stored once.
CREATE TABLE mail_scans (
    id              bigserial PRIMARY KEY,
    ballot_ref      bigint NOT NULL REFERENCES ballots (id),
    barcode_ref     bigint NOT NULL REFERENCES mail_barcodes (id),
    direction       text NOT NULL CHECK (direction IN ('outbound', 'return')),
    scanned_at      timestamptz NOT NULL,
    facility_zip    text NOT NULL DEFAULT '' CHECK (facility_zip ~ '^([0-9]{5}([0-9]{4})?)?$'),
    facility_name   text NOT NULL DEFAULT '',
    facility_city   text NOT NULL DEFAULT '',
    facility_state  text NOT NULL DEFAULT '' CHECK (facility_state ~ '^([A-Z]{2})?$'),
    operation_code  text NOT NULL DEFAULT '',
    received_at     timestamptz NOT NULL DEFAULT now(),
    received_by     bigint,                        -- api_keys.id
    -- Set once the scan was handed to the ballot's workflow (apiserver.Config.ScanNotifier).
    notified_at     timestamptz,
    UNIQUE (barcode_ref, scanned_at, operation_code, facility_zip)
);
CREATE INDEX mail_scans_ballot ON mail_scans (ballot_ref, scanned_at);

-- Scans whose barcode no ballot in the sender's scope has: counted per county (empty for a
-- state key's uploads) and day received (UTC), never stored.
CREATE TABLE mail_scan_unknown_counts (
    state           text NOT NULL CHECK (state ~ '^[A-Z]{2}$'),
    county          text NOT NULL DEFAULT '',
    day             date NOT NULL,
    scans           bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (state, county, day)
);

---- create above / drop below ----

DROP TABLE mail_scan_unknown_counts;
DROP TABLE mail_scans;
DROP TABLE mail_barcodes;
ALTER TABLE ballot_events DROP CONSTRAINT ballot_events_return_imb;
ALTER TABLE ballot_events DROP CONSTRAINT ballot_events_outbound_imb;
ALTER TABLE ballot_events DROP COLUMN return_imb;
ALTER TABLE ballot_events DROP COLUMN outbound_imb;
