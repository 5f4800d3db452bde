-- The morning's release order of held notices. Every notice held for contact hours that
-- open at the same instant on the same channel (the texts planned overnight for 08:00 in
-- one time zone) takes the next place in that instant's queue, and its workflow wakes at
-- the instant plus its place at the channel's rate: 100,000 texts at 100 a second wake over
-- 1,000 seconds instead of all at 08:00, where their workflow tasks would queue behind one
-- another and their sends be refused by the rate and queued again. Nothing here is
-- personal: a channel, an instant, a count. Rows are pruned with notice_waits.
CREATE TABLE notice_releases (
    channel text        NOT NULL CHECK (channel IN ('email', 'sms', 'voice')),
    due_at  timestamptz NOT NULL,
    taken   bigint      NOT NULL CHECK (taken >= 1),
    PRIMARY KEY (channel, due_at)
);

---- create above / drop below ----

DROP TABLE notice_releases;
