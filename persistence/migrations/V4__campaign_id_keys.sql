-- The key of a campaign's id tags (its campaign_created event's id_key, SipHash-2-4's k0 and k1;
-- engine/README.md, "Ids"), so recovery from the snapshot tags ids as the engine that handed
-- them out did: an order id a client holds still works after a restart. 0, 0 for campaigns
-- created before id tags: their ids are not tagged. IF NOT EXISTS: safe to run twice.
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS id_key_0 BIGINT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS id_key_1 BIGINT UNSIGNED NOT NULL DEFAULT 0;
