-- A county's own wording (issue 14): a state or county key replaces a notice's text in one
-- language with its own, by the catalog's message id. Every save and every revert to the
-- catalog's text is a new row, never an update in place: the rows are the history of what
-- the county's voters were told. version counts a jurisdiction's changes from 1; the
-- wording in force at version N is, per message and language, the newest row at or before
-- N, when its text is not NULL (NULL: back to the catalog's). actor names the key or
-- person (never a secret). The application checks a text against the catalog's schema
-- before it is saved; the checks here only bound what a row may hold.
CREATE TABLE message_versions (
    jurisdiction_id text        NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    version         bigint      NOT NULL CHECK (version > 0),
    message_id      text        NOT NULL CHECK (message_id ~ '^notice\.[a-z0-9_.]{1,80}$'),
    language        text        NOT NULL CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    text            text        CHECK (char_length(text) BETWEEN 1 AND 2000),
    actor           text        NOT NULL CHECK (char_length(actor) BETWEEN 1 AND 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (jurisdiction_id, version)
);
CREATE INDEX message_versions_by_message ON message_versions (jurisdiction_id, message_id, language, version DESC);

-- The version of the county's wording a delivery's message used; NULL when its texts were
-- the catalog's alone.
ALTER TABLE deliveries ADD COLUMN messages_version bigint CHECK (messages_version > 0);

---- create above / drop below ----

ALTER TABLE deliveries DROP COLUMN messages_version;
DROP TABLE message_versions;
