-- The same change as sql/sqlite/migrations/0005_max_retries_counts_attempts.sql: max_retries
-- now counts attempts, so jobs not yet finished (and dead ones, which `dlq retry` revives)
-- and a stored config value get one more to keep the runs they were promised.

UPDATE jobs SET max_retries = max_retries + 1
WHERE state IN ('pending', 'processing', 'failed', 'dead');

UPDATE config SET value = (value::bigint + 1)::text
WHERE key = 'max_retries' AND value ~ '^[0-9]{1,9}$';
