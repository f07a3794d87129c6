-- Archive (campaign_archived events, DELETE): the seq and time of the archive. An archived
-- campaign's rows all stay, for the shop's records; recovery reads the row alone (its claims and
-- orders are history the engine no longer holds) so its id and index are never given again.
-- NULL / NULL: not archived. IF NOT EXISTS: safe to run twice.
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS archived_seq BIGINT UNSIGNED NULL;
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS archived_at_us BIGINT NULL;
