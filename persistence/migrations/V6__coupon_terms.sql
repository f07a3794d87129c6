-- A coupon campaign's terms (campaign_created's discount, discount_value, min_spend,
-- valid_seconds, valid_until_us): what a checkout applies, and how long an issued coupon stays
-- usable. 'none' / 0 / 0 / 0 / NULL: no terms, as for every campaign created before them.
-- IF NOT EXISTS: safe to run twice.
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS discount VARCHAR(8) NOT NULL DEFAULT 'none';
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS discount_value BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS min_spend BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS valid_seconds INT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS valid_until_us BIGINT NULL;
