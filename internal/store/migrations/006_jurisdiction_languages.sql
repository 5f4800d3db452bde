-- The languages a county offers its voters. Notices exist in English and Spanish; a voter
-- whose language the county does not offer hears from it in the county's first language.
ALTER TABLE jurisdictions ADD COLUMN languages text[] NOT NULL DEFAULT '{en,es}'
    CHECK (cardinality(languages) > 0 AND languages <@ ARRAY['en', 'es']::text[]);

---- create above / drop below ----

ALTER TABLE jurisdictions DROP COLUMN languages;
