-- Live changes (campaign_changed events, PATCH): the stock a campaign may be topped up to, and the
-- seq and time of the newest change, which rewrites name, stock and ends_at in place. The newest
-- change by seq wins, in the row as in the engine, so a copy appended again, or changes in any
-- order, end in the same state. stock_max 0: created before top-ups (its stock is its most);
-- change_seq 0 / NULL: never changed. IF NOT EXISTS: safe to run twice.
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS stock_max INT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS change_seq BIGINT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS changed_at_us BIGINT NULL;
