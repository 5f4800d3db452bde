-- Message catalogs (issue 14): every text a voter reads or hears is in one file a language
-- (internal/notices/catalogs), so which languages exist is the application's to check (the
-- roll, the portal, jurisdictions). The columns keep only the shape of a BCP 47 code, and
-- adding a language is adding a file, with no migration. NOT VALID: every stored row
-- already holds en or es, and checking millions of voters would hold the table for nothing.
ALTER TABLE voters DROP CONSTRAINT voters_language_check;
ALTER TABLE voters ADD CONSTRAINT voters_language_check
    CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$') NOT VALID;
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_language_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_language_check
    CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$') NOT VALID;
ALTER TABLE jurisdictions DROP CONSTRAINT jurisdictions_languages_check;
ALTER TABLE jurisdictions ADD CONSTRAINT jurisdictions_languages_check
    CHECK (cardinality(languages) BETWEEN 1 AND 32);

-- A county's HELP text in each language it offers, by language code ({"es": "Llame al
-- ..."}); help_text stays the text in the county's default language, and the fallback.
ALTER TABLE jurisdictions ADD COLUMN help_texts jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(help_texts) = 'object');

-- When each number last got the opt-out footer ("Reply STOP to opt out") from each county
-- number: carriers' rules (CTIA) want it on the first text to a number and periodically
-- after (notices.SMSFooterPeriod), not on every text. The number is stored as keyed_hash
-- (migration 009) of its SHA-256, never as itself. delivery_key is the delivery that got it,
-- so that a retry of that delivery carries the footer again.
CREATE TABLE sms_footers (
    sender          text NOT NULL,           -- the county's number, E.164
    destination     bytea NOT NULL,          -- keyed_hash of the voter's number
    sent_at         timestamptz NOT NULL,
    delivery_key    text NOT NULL DEFAULT '', -- the notice delivery's idempotency key; '' for a confirmation
    PRIMARY KEY (sender, destination)
);
CREATE INDEX sms_footers_sent_at ON sms_footers (sent_at);

---- create above / drop below ----

DROP TABLE sms_footers;
ALTER TABLE jurisdictions DROP COLUMN help_texts;
-- Back to English and Spanish only: fails while any row holds another language, which the
-- older release could not write in anyway.
ALTER TABLE jurisdictions DROP CONSTRAINT jurisdictions_languages_check;
ALTER TABLE jurisdictions ADD CONSTRAINT jurisdictions_languages_check
    CHECK (cardinality(languages) > 0 AND languages <@ ARRAY['en', 'es']::text[]);
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_language_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_language_check CHECK (language IN ('en', 'es'));
ALTER TABLE voters DROP CONSTRAINT voters_language_check;
ALTER TABLE voters ADD CONSTRAINT voters_language_check CHECK (language IN ('en', 'es'));
