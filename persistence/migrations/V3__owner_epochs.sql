-- V3: one owner across boxes (ARCHITECTURE invariant 7, docs/durability.md "One owner across
-- boxes"). Each statement is safe to run twice.

-- The current owner of a deployment (its topic and this database): `hotdeal serve` takes
-- epoch = previous + 1 here at start; host, pid and start time are for ops.
CREATE TABLE IF NOT EXISTS owners (
  topic VARCHAR(249) NOT NULL,
  epoch BIGINT UNSIGNED NOT NULL,
  host VARCHAR(255) NOT NULL,
  pid INT UNSIGNED NOT NULL,
  started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (topic)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The highest owner epoch the persister has seen in the partition up to next_offset: written
-- with the offset, so the stale-owner rule resumes where it stopped after any restart.
ALTER TABLE consumer_offsets ADD COLUMN IF NOT EXISTS epoch_max BIGINT UNSIGNED NOT NULL DEFAULT 0;
