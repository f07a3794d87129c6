-- Pause and resume (campaign_paused, campaign_resumed events): whether the campaign is paused and
-- the seq of the event that set it, with its time. The newest event by seq wins, in the row as in
-- the engine, so an event appended again, or the two in either order, end in the same state.
-- 0 / 0 / NULL: never paused. IF NOT EXISTS: safe to run twice.
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS paused TINYINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS pause_seq BIGINT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS pause_at_us BIGINT NULL;
