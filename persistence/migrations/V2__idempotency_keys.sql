-- The Idempotency-Key a claim or order was made with (NULL: the client sent none), so recovery
-- from the snapshot remembers it as replay from Kafka does: a client retrying after a restart
-- hears its original answer. IF NOT EXISTS: safe to run twice.
ALTER TABLE claims ADD COLUMN IF NOT EXISTS idempotency_key VARCHAR(64) NULL;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS idempotency_key VARCHAR(64) NULL;
