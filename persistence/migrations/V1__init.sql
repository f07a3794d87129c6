-- V1: the tables the persister writes and recovery reads. Every time is integer microseconds
-- since the Unix epoch (UTC), as in the events; every id is as in docs/events.md.
-- Statements end with ';' at the end of a line (the migration runner splits there), and each
-- must be safe to run again (IF NOT EXISTS ...): DDL commits by itself, so a migration cut off
-- halfway is re-run from its first statement.

CREATE TABLE IF NOT EXISTS campaigns (
  id VARCHAR(64) NOT NULL,
  campaign_index INT UNSIGNED NOT NULL,
  kind ENUM('coupon', 'sale') NOT NULL,
  name VARCHAR(4096) NOT NULL,  -- wider than any name an event (4096 bytes) can carry
  stock INT UNSIGNED NOT NULL,
  per_user_limit INT UNSIGNED NOT NULL,
  starts_at_us BIGINT NOT NULL,
  ends_at_us BIGINT NULL,
  price BIGINT NOT NULL,
  hold_seconds INT UNSIGNED NOT NULL,
  created_at_us BIGINT NOT NULL,
  created_seq BIGINT UNSIGNED NOT NULL,
  closed_at_us BIGINT NULL,
  closed_seq BIGINT UNSIGNED NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per live claim. A voided claim is deleted (the user may claim again).
CREATE TABLE IF NOT EXISTS claims (
  claim_id BIGINT UNSIGNED NOT NULL,
  campaign_id VARCHAR(64) NOT NULL,
  user_id VARCHAR(64) NOT NULL,
  coupon_code CHAR(16) NOT NULL,
  created_at_us BIGINT NOT NULL,
  seq BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (claim_id),
  UNIQUE KEY claims_campaign_user (campaign_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- One row per order, in its latest status. A voided order is deleted. Recovery rebuilds an
-- order as its reservation plus its latest move, so both events' seq and time are kept.
CREATE TABLE IF NOT EXISTS orders (
  order_id BIGINT UNSIGNED NOT NULL,
  campaign_id VARCHAR(64) NOT NULL,
  user_id VARCHAR(64) NOT NULL,
  quantity INT UNSIGNED NOT NULL,
  amount BIGINT NOT NULL,
  created_at_us BIGINT NOT NULL,
  expires_at_us BIGINT NOT NULL,
  seq BIGINT UNSIGNED NOT NULL,
  -- The latest move (confirmed, cancelled, expired); for 'reserved' the reservation itself.
  status ENUM('reserved', 'confirmed', 'cancelled', 'expired') NOT NULL,
  status_at_us BIGINT NOT NULL,
  status_seq BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (order_id),
  KEY orders_campaign_user (campaign_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- Where the persister resumes: written in the same transaction as the rows it covers.
CREATE TABLE IF NOT EXISTS consumer_offsets (
  topic VARCHAR(249) NOT NULL,
  `partition` INT NOT NULL,
  next_offset BIGINT NOT NULL,
  PRIMARY KEY (topic, `partition`)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- Events the persister could not apply without losing something: kept here, raised as an
-- alarm, never dropped. `event` is the raw message value.
CREATE TABLE IF NOT EXISTS conflicts (
  topic VARCHAR(249) NOT NULL,
  `partition` INT NOT NULL,
  `offset` BIGINT NOT NULL,
  kind VARCHAR(32) NOT NULL,
  detail VARCHAR(255) NOT NULL,
  event MEDIUMBLOB NOT NULL,
  detected_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (topic, `partition`, `offset`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
