-- A coupon's use (coupon_redeemed, coupon_restored events): whether it is redeemed now, the
-- number of its newest change (`use`: the newest wins, in the row as in the engine, so an event
-- appended again, or a redeem and a restore in either order, end in the same state), the order
-- it was last redeemed on, and when that change was made. 0 / 0 / NULL / NULL: never used.
-- Coupon codes grow to 20 characters (a four-character campaign prefix); older ones keep 16.
-- IF NOT EXISTS: safe to run twice.
ALTER TABLE claims MODIFY coupon_code VARCHAR(20) NOT NULL;
ALTER TABLE claims ADD COLUMN IF NOT EXISTS redeemed TINYINT NOT NULL DEFAULT 0;
ALTER TABLE claims ADD COLUMN IF NOT EXISTS use_count INT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE claims ADD COLUMN IF NOT EXISTS order_ref VARCHAR(64) NULL;
ALTER TABLE claims ADD COLUMN IF NOT EXISTS used_at_us BIGINT NULL;
