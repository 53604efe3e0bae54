-- max_retries now means the most attempts a job gets (seeds 003 and 004: a job is dead once
-- attempts >= max_retries); it used to mean retries after the first attempt. Jobs queued
-- before keep the runs they were promised, and so does a stored config value. Dead jobs
-- too, as `dlq retry` gives them their budget again; completed jobs are history.

UPDATE jobs SET max_retries = max_retries + 1
WHERE state IN ('pending', 'processing', 'failed', 'dead');

UPDATE config SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)
WHERE key = 'max_retries' AND value GLOB '[0-9]*' AND value NOT GLOB '*[^0-9]*';
