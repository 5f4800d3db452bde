-- Where a voter's answer to a notice email goes (issue 14): the county election office's
-- contact address, sent as the email's Reply-To and shown in its footer. Empty: no Reply-To,
-- answers go to the sender address (email_from).
ALTER TABLE jurisdictions ADD COLUMN reply_to text NOT NULL DEFAULT '';

---- create above / drop below ----

ALTER TABLE jurisdictions DROP COLUMN reply_to;
