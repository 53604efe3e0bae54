-- Every SQL statement the SQLite store runs, by name (see store/queries.py). Job states are
-- named after the lifecycle ({claimable}, {from:revive}, ...) and rendered at load.
-- Job columns are always selected in the order of JOB_COLUMNS in store/sqlite.py.
-- Hot statements name their index (INDEXED BY): without ANALYZE statistics the planner
-- may otherwise pick jobs_state and sort every claimable job on each claim.

-- name: migrations_table
CREATE TABLE IF NOT EXISTS queuectl_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at REAL NOT NULL
)

-- name: record_migration
INSERT INTO queuectl_migrations (version, name, applied_at) VALUES (?, ?, ?)

-- name: count_user_tables
SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'

-- name: insert_jobs
-- Followed by insert_job_row repeated once per job (many rows per statement: a bulk
-- enqueue spends much of its time stepping statements one row at a time otherwise).
INSERT INTO jobs (id, command, queue, state, priority, max_retries, backoff_base, timeout,
                  run_at, next_run_at, created_at, updated_at, cwd, env)
VALUES

-- name: insert_job_row
(?, ?, ?, {initial}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: existing_ids
SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?)) LIMIT 1

-- name: get_job
SELECT {job_columns} FROM jobs WHERE id = ?

-- name: list_jobs
SELECT {job_columns} FROM jobs ORDER BY seq DESC LIMIT ?

-- name: list_jobs_state
SELECT {job_columns} FROM jobs WHERE state = ? ORDER BY seq DESC LIMIT ?

-- name: list_jobs_queue
SELECT {job_columns} FROM jobs WHERE queue = ? ORDER BY seq DESC LIMIT ?

-- name: list_jobs_state_queue
SELECT {job_columns} FROM jobs WHERE state = ? AND queue = ? ORDER BY seq DESC LIMIT ?

-- name: list_jobs_ready
SELECT {job_columns} FROM jobs
WHERE {claimable} AND next_run_at <= ?
ORDER BY seq DESC LIMIT ?

-- name: list_jobs_ready_queue
SELECT {job_columns} FROM jobs
WHERE {claimable} AND next_run_at <= ? AND queue = ?
ORDER BY seq DESC LIMIT ?

-- name: count_jobs
SELECT state, count(*) FROM jobs GROUP BY state

-- name: attempts
SELECT attempt, worker_id, started_at, finished_at, exit_code, timed_out, error, interrupted
FROM attempts WHERE job_id = ? ORDER BY attempt

-- name: output_latest
SELECT attempt, stdout, stderr, stdout_total, stderr_total, finished_at IS NOT NULL
FROM attempts WHERE job_id = ? ORDER BY attempt DESC LIMIT 1

-- name: output_attempt
SELECT attempt, stdout, stderr, stdout_total, stderr_total, finished_at IS NOT NULL
FROM attempts WHERE job_id = ? AND attempt = ?

-- name: job_state
SELECT state FROM jobs WHERE id = ?

-- name: revive
-- The revived state and due time are lifecycle.on_revive's.
UPDATE jobs
SET state = ?, attempts = 0, next_run_at = ?, updated_at = ?,
    worker_id = NULL, lease_expires_at = NULL
WHERE id = ? AND {from:revive}

-- name: revive_all
UPDATE jobs
SET state = ?1, attempts = 0, next_run_at = ?2, updated_at = ?3,
    worker_id = NULL, lease_expires_at = NULL
WHERE {from:revive}
RETURNING id

-- name: purge_dead_attempts
DELETE FROM attempts WHERE job_id IN (SELECT id FROM jobs WHERE {dlq})

-- name: purge_dead
DELETE FROM jobs WHERE {dlq}

-- name: config_items
SELECT key, value FROM config

-- name: config_set
INSERT INTO config (key, value) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- name: config_unset
DELETE FROM config WHERE key = ?

-- name: register_worker
INSERT OR REPLACE INTO workers (id, host, pid, supervisor_pid, queues, started_at,
                                heartbeat_at, jobs_done, stop_requested, wake)
VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?)

-- name: unregister_worker
DELETE FROM workers WHERE id = ?

-- name: heartbeat_worker
UPDATE workers SET heartbeat_at = ?, jobs_done = ? WHERE id = ? RETURNING stop_requested

-- name: extend_lease
UPDATE jobs SET lease_expires_at = ?
WHERE id = ? AND {live} AND worker_id = ? AND runs = ?

-- name: list_workers
-- A worker's current job and state are read off the jobs it holds, so that claiming and
-- finishing a job never has to write the worker's row.
SELECT w.id, w.host, w.pid, w.queues,
       CASE WHEN w.stop_requested > 0 THEN 'stopping'
            WHEN j.id IS NOT NULL THEN 'busy' ELSE 'idle' END,
       w.started_at, w.heartbeat_at, j.id, w.jobs_done, w.supervisor_pid, w.stop_requested,
       w.wake
FROM workers AS w
LEFT JOIN jobs AS j INDEXED BY jobs_lease ON j.{live} AND j.worker_id = w.id
ORDER BY w.started_at, w.id

-- name: wake_addresses
-- Every worker of a SQLite store runs on this machine, some maybe in containers that count
-- as hosts of their own (hostname()); a wake-up that cannot reach one is simply not delivered.
SELECT wake FROM workers WHERE wake IS NOT NULL

-- name: request_stop
UPDATE workers SET stop_requested = max(stop_requested, ?) WHERE id = ?

-- name: forget_worker
DELETE FROM workers WHERE id = ?

-- name: mark_stop
INSERT INTO stop_marks (name, at) VALUES ('stop', ?)
ON CONFLICT (name) DO UPDATE SET at = max(at, excluded.at)

-- name: stop_mark
SELECT at FROM stop_marks WHERE name = 'stop'

-- name: claim
UPDATE jobs
SET state = {to:claim}, attempts = attempts + 1, runs = runs + 1, worker_id = ?1,
    lease_expires_at = ?3, updated_at = ?2, next_run_at = NULL
WHERE seq = (
    SELECT seq FROM jobs INDEXED BY jobs_claim
    WHERE {from:claim} AND next_run_at <= ?2
    ORDER BY priority DESC, next_run_at, seq
    LIMIT 1
)
RETURNING {job_columns}

-- name: claim_candidate_queue
SELECT seq, priority, next_run_at FROM jobs INDEXED BY jobs_claim_queue
WHERE {from:claim} AND queue = ? AND next_run_at <= ?
ORDER BY priority DESC, next_run_at, seq
LIMIT 1

-- name: claim_seq
UPDATE jobs
SET state = {to:claim}, attempts = attempts + 1, runs = runs + 1, worker_id = ?1,
    lease_expires_at = ?3, updated_at = ?2, next_run_at = NULL
WHERE seq = ?4 AND {from:claim}
RETURNING {job_columns}

-- name: start_attempt
INSERT OR REPLACE INTO attempts (job_id, attempt, worker_id, started_at) VALUES (?, ?, ?, ?)

-- name: save_output
UPDATE attempts SET stdout = ?, stderr = ?, stdout_total = ?, stderr_total = ?
WHERE job_id = ? AND attempt = ? AND finished_at IS NULL

-- name: finish_job
-- The state and due time are the lifecycle's decision (lifecycle.after_attempt).
UPDATE jobs
SET state = ?, next_run_at = ?, exit_code = ?, last_error = ?, updated_at = ?,
    worker_id = NULL, lease_expires_at = NULL
WHERE id = ? AND {from:succeed|retry|bury} AND worker_id = ? AND runs = ?

-- name: recover_job
-- finish_job for a lease found expired, only if nobody renewed it since it was read.
UPDATE jobs
SET state = ?, next_run_at = ?, exit_code = ?, last_error = ?, updated_at = ?,
    worker_id = NULL, lease_expires_at = NULL
WHERE id = ? AND {from:succeed|retry|bury} AND worker_id = ? AND runs = ?
  AND lease_expires_at = ?

-- name: finish_attempt
UPDATE attempts
SET finished_at = ?, exit_code = ?, timed_out = ?, error = ?,
    stdout = ?, stderr = ?, stdout_total = ?, stderr_total = ?
WHERE job_id = ? AND attempt = ?

-- name: release_job
-- A claim given back unstarted: as if it never happened (lifecycle.on_forced_stop).
UPDATE jobs
SET state = ?, attempts = attempts - 1, runs = runs - 1, next_run_at = ?,
    updated_at = ?, worker_id = NULL, lease_expires_at = NULL
WHERE id = ? AND {from:release} AND worker_id = ? AND runs = ?

-- name: drop_attempt
DELETE FROM attempts WHERE job_id = ? AND attempt = ?

-- name: keep_job
-- A forced stop: back to pending, the attempt given back to the budget but kept in the
-- history (so ``runs`` stays), to be marked by interrupt_attempt.
UPDATE jobs
SET state = ?, attempts = attempts - 1, next_run_at = ?, updated_at = ?,
    worker_id = NULL, lease_expires_at = NULL
WHERE id = ? AND {from:release} AND worker_id = ? AND runs = ?

-- name: interrupt_attempt
UPDATE attempts
SET finished_at = ?, exit_code = ?, timed_out = ?, error = ?,
    stdout = ?, stderr = ?, stdout_total = ?, stderr_total = ?, interrupted = 1
WHERE job_id = ? AND attempt = ?

-- name: expired
SELECT {job_columns} FROM jobs INDEXED BY jobs_lease
WHERE {live} AND lease_expires_at < ?
ORDER BY lease_expires_at LIMIT ?

-- name: next_due
SELECT min(next_run_at) FROM jobs INDEXED BY jobs_due WHERE {claimable}

-- name: next_due_queue
SELECT min(next_run_at) FROM jobs INDEXED BY jobs_claim_queue
WHERE {claimable} AND queue = ?

-- The dashboard's reads (web/). Pages go by key (seq), never by OFFSET: a page of the newest
-- jobs costs the same at a million jobs as at ten.

-- name: max_seq
SELECT coalesce(max(seq), 0) FROM jobs

-- name: page_jobs
-- The floor bounds a text search to a window of seq, so one request never scans every job.
SELECT {job_columns}, seq FROM jobs
WHERE seq < :before AND seq >= :floor
  AND (:queue IS NULL OR queue = :queue)
  AND (:text IS NULL OR instr(id, :text) > 0 OR instr(command, :text) > 0)
  AND (:error IS NULL OR last_error = :error)
ORDER BY seq DESC LIMIT :limit

-- name: page_jobs_state
SELECT {job_columns}, seq FROM jobs INDEXED BY jobs_state
WHERE state = :state AND seq < :before AND seq >= :floor
  AND (:queue IS NULL OR queue = :queue)
  AND (:text IS NULL OR instr(id, :text) > 0 OR instr(command, :text) > 0)
  AND (:error IS NULL OR last_error = :error)
ORDER BY seq DESC LIMIT :limit

-- name: queue_load
-- Per queue, the jobs still to run (and how many of them are due), running and dead; each
-- part reads only its own partial index or range, so finished jobs cost nothing here.
SELECT queue, 'waiting', count(*), sum(next_run_at <= ?1),
       min(CASE WHEN next_run_at <= ?1 THEN next_run_at END)
FROM jobs INDEXED BY jobs_claim_queue WHERE {claimable} GROUP BY queue
UNION ALL
SELECT queue, 'live', count(*), 0, NULL
FROM jobs INDEXED BY jobs_lease WHERE {live} GROUP BY queue
UNION ALL
SELECT queue, 'dlq', count(*), 0, NULL
FROM jobs INDEXED BY jobs_state WHERE {dlq} GROUP BY queue

-- name: finished_per_minute
-- Attempts that ended since a time, per minute: how many, and how many of them succeeded.
-- An attempt a forced stop interrupted is neither (it did not fail; it is run again).
SELECT CAST(finished_at / 60 AS INTEGER) AS minute, count(*),
       sum(exit_code IS 0 AND error IS NULL AND NOT timed_out)
FROM attempts INDEXED BY attempts_finished
WHERE finished_at >= ? AND finished_at IS NOT NULL AND NOT interrupted
GROUP BY minute ORDER BY minute

-- name: dead_groups
SELECT last_error, count(*), max(updated_at) FROM jobs INDEXED BY jobs_state
WHERE {dlq}
GROUP BY last_error ORDER BY count(*) DESC, max(updated_at) DESC LIMIT ?

-- name: revive_some
-- Like revive, but each id on its own: the dead ones move, the others are left as they are.
UPDATE jobs
SET state = ?1, attempts = 0, next_run_at = ?2, updated_at = ?3,
    worker_id = NULL, lease_expires_at = NULL
WHERE {from:revive} AND id IN (SELECT value FROM json_each(?4))
RETURNING id

-- name: data_version
-- Changes whenever another connection (any process) commits to the store.
PRAGMA data_version
