-- Every SQL statement the PostgreSQL store runs, by name (see store/queries.py). Job states
-- are named after the lifecycle ({claimable}, {from:revive}, ...) and rendered at load.
-- Job columns are always selected in the order of JOB_COLUMNS in store/postgres.py.
-- Statements run with search_path set to the store's schema, so table names are bare.
-- {schema} and {channel} are the only placeholders that vary, and only ever receive
-- psycopg.sql.Identifier values of validated names; every other value is a parameter.

-- name: session_settings
-- Once per connection, in one round trip: the store's schema, and a bound on every wait, so
-- that a call never hangs behind an administrator's lock (VACUUM FULL, ALTER TABLE, a stuck
-- transaction) and a frozen worker never holds its row locks for long.
SELECT set_config('search_path', %(search_path)s, false),
       set_config('lock_timeout', %(lock_timeout)s, false),
       set_config('statement_timeout', %(statement_timeout)s, false),
       set_config('idle_in_transaction_session_timeout', %(idle_timeout)s, false)

-- name: create_schema
CREATE SCHEMA IF NOT EXISTS {schema}

-- name: listen
LISTEN {channel}

-- name: migration_lock
SELECT pg_advisory_xact_lock(%s)

-- name: schema_exists
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s)

-- name: schema_relations
SELECT c.relname::text
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')

-- name: store_identity
-- Which schema and jobs table this is: dropped and made again, they get new oids. No row
-- when the schema is gone; a NULL table when only the table is.
SELECT n.oid::bigint, c.oid::bigint
FROM pg_catalog.pg_namespace AS n
LEFT JOIN pg_catalog.pg_class AS c ON c.relnamespace = n.oid AND c.relname = 'jobs'
WHERE n.nspname = %s

-- name: migrations_table
CREATE TABLE IF NOT EXISTS queuectl_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at double precision NOT NULL
)

-- name: schema_version
SELECT coalesce(max(version), 0) FROM queuectl_migrations

-- name: record_migration
INSERT INTO queuectl_migrations (version, name, applied_at) VALUES (%s, %s, %s)

-- name: notify
SELECT pg_notify(%s, '')

-- name: insert_jobs
-- One statement for the whole batch. ON CONFLICT DO NOTHING skips ids that already exist
-- (or repeat within the batch) instead of aborting, so the caller can name the first one
-- and roll everything back; WITH ORDINALITY keeps seq in batch order.
INSERT INTO jobs (id, command, queue, state, priority, max_retries, backoff_base, timeout,
                  run_at, next_run_at, created_at, updated_at, cwd, env)
SELECT b.id, b.command, b.queue, {initial}, b.priority, b.max_retries, b.backoff_base,
       b.timeout, b.run_at, b.run_at, b.created_at, b.created_at, b.cwd, b.env
FROM unnest(%(id)s::text[], %(command)s::text[], %(queue)s::text[], %(priority)s::integer[],
            %(max_retries)s::integer[], %(backoff_base)s::float8[], %(timeout)s::float8[],
            %(run_at)s::float8[], %(created_at)s::float8[], %(cwd)s::text[], %(env)s::text[])
     WITH ORDINALITY
     AS b(id, command, queue, priority, max_retries, backoff_base, timeout, run_at,
          created_at, cwd, env, n)
ORDER BY b.n
ON CONFLICT (id) DO NOTHING
RETURNING id

-- name: batch_already_inserted
-- How many jobs of a batch exist exactly as that batch wrote them.
SELECT count(*)
FROM unnest(%s::text[], %s::float8[], %s::text[]) AS b(id, created_at, command)
JOIN jobs AS j ON j.id = b.id AND j.created_at = b.created_at AND j.command = b.command

-- name: get_job
SELECT {job_columns} FROM jobs WHERE id = %s

-- name: list_jobs
SELECT {job_columns} FROM jobs ORDER BY seq DESC LIMIT %s

-- name: list_jobs_state
SELECT {job_columns} FROM jobs WHERE state = %s ORDER BY seq DESC LIMIT %s

-- name: list_jobs_queue
SELECT {job_columns} FROM jobs WHERE queue = %s ORDER BY seq DESC LIMIT %s

-- name: list_jobs_state_queue
SELECT {job_columns} FROM jobs WHERE state = %s AND queue = %s ORDER BY seq DESC LIMIT %s

-- name: list_jobs_ready
SELECT {job_columns} FROM jobs
WHERE {claimable} AND next_run_at <= %s
ORDER BY seq DESC LIMIT %s

-- name: list_jobs_ready_queue
SELECT {job_columns} FROM jobs
WHERE {claimable} AND next_run_at <= %s AND queue = %s
ORDER BY seq DESC LIMIT %s

-- name: count_jobs
SELECT state, count(*) FROM jobs GROUP BY state

-- name: attempts
SELECT attempt, worker_id, started_at, finished_at, exit_code, timed_out, error, interrupted
FROM attempts WHERE job_id = %s ORDER BY attempt

-- name: output_latest
SELECT attempt, stdout, stderr, stdout_total, stderr_total, finished_at IS NOT NULL
FROM attempts WHERE job_id = %s ORDER BY attempt DESC LIMIT 1

-- name: output_attempt
SELECT attempt, stdout, stderr, stdout_total, stderr_total, finished_at IS NOT NULL
FROM attempts WHERE job_id = %s AND attempt = %s

-- name: lock_jobs
-- Locks in id order, so that two revives of overlapping ids cannot deadlock.
SELECT id, state, attempts, updated_at, next_run_at
FROM jobs WHERE id = ANY(%s::text[]) ORDER BY id FOR UPDATE

-- name: revive
-- The revived state and due time are lifecycle.on_revive's.
UPDATE jobs
SET state = %(state)s, attempts = 0, next_run_at = %(next_run_at)s, updated_at = %(now)s,
    worker_id = NULL, lease_expires_at = NULL
WHERE id = ANY(%(ids)s::text[]) AND {from:revive}

-- name: revive_all
-- On a retry, also report the jobs that this same call already revived (their commit
-- went through but its acknowledgement was lost): they carry this call's exact time.
WITH revived AS (
    UPDATE jobs
    SET state = %(state)s, attempts = 0, next_run_at = %(next_run_at)s, updated_at = %(now)s,
        worker_id = NULL, lease_expires_at = NULL
    WHERE {from:revive}
       OR (%(retry)s AND state = %(state)s AND attempts = 0
           AND updated_at = %(now)s AND next_run_at = %(next_run_at)s)
    RETURNING id, seq
)
SELECT id FROM revived ORDER BY seq

-- name: purge_dead
-- One statement, so a job cannot become dead between deleting its history and itself.
WITH gone AS (
    DELETE FROM jobs WHERE {dlq} RETURNING id
), history AS (
    DELETE FROM attempts WHERE job_id IN (SELECT id FROM gone)
)
SELECT count(*) FROM gone

-- name: config_items
SELECT key, value FROM config

-- name: config_set
INSERT INTO config (key, value) VALUES (%s, %s)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- name: config_unset
DELETE FROM config WHERE key = %s

-- name: register_worker
-- Like SQLite's INSERT OR REPLACE: a re-registration starts the row afresh.
INSERT INTO workers (id, host, pid, supervisor_pid, queues, started_at,
                     heartbeat_at, jobs_done, stop_requested, wake)
VALUES (%s, %s, %s, %s, %s, %s, %s, 0, 0, %s)
ON CONFLICT (id) DO UPDATE
SET host = excluded.host, pid = excluded.pid, supervisor_pid = excluded.supervisor_pid,
    queues = excluded.queues, started_at = excluded.started_at,
    heartbeat_at = excluded.heartbeat_at, jobs_done = 0, stop_requested = 0,
    wake = excluded.wake

-- name: unregister_worker
DELETE FROM workers WHERE id = %s

-- name: heartbeat_worker
UPDATE workers SET heartbeat_at = %s, jobs_done = %s WHERE id = %s RETURNING stop_requested

-- name: extend_lease
-- The lease counts from when the row is written: plus however long this transaction has
-- been waiting, for a lock say (a difference of the server's own clock, so no skew), as for
-- every lease below.
UPDATE jobs
SET lease_expires_at =
    %s + extract(epoch FROM clock_timestamp() - transaction_timestamp())::float8
WHERE id = %s AND {live} AND worker_id = %s AND runs = %s

-- name: list_workers
-- A worker's current job and state are read off the jobs it holds, so that claiming and
-- finishing a job never has to write the worker's row.
SELECT w.id, w.host, w.pid, w.queues,
       CASE WHEN w.stop_requested > 0 THEN 'stopping'
            WHEN j.id IS NOT NULL THEN 'busy' ELSE 'idle' END,
       w.started_at, w.heartbeat_at, j.id, w.jobs_done, w.supervisor_pid, w.stop_requested,
       w.wake
FROM workers AS w
LEFT JOIN jobs AS j ON j.{live} AND j.worker_id = w.id
ORDER BY w.started_at, w.id

-- name: request_stop
UPDATE workers SET stop_requested = greatest(stop_requested, %s) WHERE id = ANY(%s::text[])

-- name: forget_workers
DELETE FROM workers WHERE id = ANY(%s::text[])

-- name: mark_stop
INSERT INTO stop_marks (name, at) VALUES ('stop', %s)
ON CONFLICT (name) DO UPDATE SET at = greatest(stop_marks.at, excluded.at)

-- name: stop_mark
SELECT at FROM stop_marks WHERE name = 'stop'

-- name: pick_any
-- The claim's choice among every queue. SKIP LOCKED: a row another worker is claiming right
-- now is passed over, so claims run side by side instead of queueing behind one row lock.
SELECT seq FROM jobs
WHERE {from:claim} AND next_run_at <= %(now)s
ORDER BY priority DESC, next_run_at, seq
LIMIT 1
FOR UPDATE SKIP LOCKED

-- name: pick_queues
-- The claim's choice among some queues: the best unlocked candidate of each (one index probe
-- each, as in SQLite), then the best of those. The other candidates stay locked only until
-- the statement's transaction ends.
SELECT c.seq
FROM unnest(%(queues)s::text[]) AS q(name)
CROSS JOIN LATERAL (
    SELECT seq, priority, next_run_at FROM jobs
    WHERE {from:claim} AND queue = q.name AND next_run_at <= %(now)s
    ORDER BY priority DESC, next_run_at, seq
    LIMIT 1
    FOR UPDATE SKIP LOCKED
) AS c
ORDER BY c.priority DESC, c.next_run_at, c.seq
LIMIT 1

-- name: claim
-- Made twice, with pick_any and with pick_queues (claim, claim_queues). The pick locks
-- its row FOR UPDATE, which re-checks that the job is still pending or failed; repeating
-- that condition here would only tempt the planner into the partial claim indexes, which
-- it scans whole when their statistics are stale (ten times slower at a million jobs).
UPDATE jobs
SET state = {to:claim}, attempts = attempts + 1, runs = runs + 1, worker_id = %(worker)s,
    lease_expires_at =
        %(lease)s + extract(epoch FROM clock_timestamp() - transaction_timestamp())::float8,
    updated_at = %(now)s, next_run_at = NULL
WHERE seq = ({pick})
RETURNING {job_columns}

-- name: claim_ctes
-- The claim as two CTEs, `claimed` and `started`, shared by the statements below: take the
-- best due job (pick_any or pick_queues) and open its attempt (like start_attempt).
claimed AS (
    UPDATE jobs
    SET state = {to:claim}, attempts = attempts + 1, runs = runs + 1,
        worker_id = %(worker)s, updated_at = %(now)s, next_run_at = NULL,
        lease_expires_at =
            %(lease)s + extract(epoch FROM clock_timestamp() - transaction_timestamp())::float8
    WHERE seq = ({pick})
    RETURNING {job_columns}
), started AS (
    INSERT INTO attempts (job_id, attempt, worker_id, started_at)
    SELECT id, runs, %(worker)s, %(now)s FROM claimed
    ON CONFLICT (job_id, attempt) DO UPDATE
    SET worker_id = excluded.worker_id, started_at = excluded.started_at, finished_at = NULL,
        exit_code = NULL, timed_out = false, error = NULL, stdout = NULL, stderr = NULL,
        stdout_total = 0, stderr_total = 0, interrupted = false
)

-- name: claim_and_start
-- claim and start_attempt in one statement: one round trip to the server instead of four.
WITH {claim_ctes}
SELECT * FROM claimed

-- name: finish_and_claim
-- A busy worker's whole step, as one statement: record the attempt that ended (fenced by
-- worker and attempt, like finish_job), then claim and start the next job. All parts see
-- one snapshot, in which the job being finished is still processing, so the claim can never
-- take it back at once. Returns whether the finish applied, then the claimed job, if any.
WITH finished AS (
    UPDATE jobs
    SET state = %(state)s, next_run_at = %(next_run_at)s, exit_code = %(exit_code)s,
        last_error = %(error)s, updated_at = %(finished_at)s, worker_id = NULL,
        lease_expires_at = NULL
    WHERE id = %(job)s AND {from:succeed|retry|bury} AND worker_id = %(holder)s
      AND runs = %(runs)s
    RETURNING id
), recorded AS (
    UPDATE attempts
    SET finished_at = %(finished_at)s, exit_code = %(exit_code)s, timed_out = %(timed_out)s,
        error = %(error)s, stdout = %(stdout)s, stderr = %(stderr)s,
        stdout_total = %(stdout_total)s, stderr_total = %(stderr_total)s
    WHERE job_id = (SELECT id FROM finished) AND attempt = %(runs)s
), {claim_ctes}
SELECT (SELECT count(*) FROM finished) AS finished, claimed.*
FROM (SELECT 1) AS one LEFT JOIN claimed ON true

-- name: claimed_by_call
-- After a lost commit acknowledgement: the job this very claim (worker, time) took.
SELECT {job_columns} FROM jobs
WHERE state = {to:claim} AND worker_id = %s AND updated_at = %s

-- name: start_attempt
-- Like SQLite's INSERT OR REPLACE: a leftover row for this number starts afresh.
INSERT INTO attempts (job_id, attempt, worker_id, started_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (job_id, attempt) DO UPDATE
SET worker_id = excluded.worker_id, started_at = excluded.started_at, finished_at = NULL,
    exit_code = NULL, timed_out = false, error = NULL, stdout = NULL, stderr = NULL,
    stdout_total = 0, stderr_total = 0, interrupted = false

-- name: save_output
UPDATE attempts SET stdout = %s, stderr = %s, stdout_total = %s, stderr_total = %s
WHERE job_id = %s AND attempt = %s AND finished_at IS NULL

-- name: finish_job
-- The state and due time are the lifecycle's decision (lifecycle.after_attempt).
UPDATE jobs
SET state = %s, next_run_at = %s, exit_code = %s, last_error = %s, updated_at = %s,
    worker_id = NULL, lease_expires_at = NULL
WHERE id = %s AND {from:succeed|retry|bury} AND worker_id = %s AND runs = %s

-- name: recover_job
-- finish_job for a lease found expired, only if nobody renewed it since it was read. A row
-- locked right now is passed over rather than waited for: whoever holds it (its own worker
-- renewing the lease, say) may be about to prove the job alive.
UPDATE jobs
SET state = %s, next_run_at = %s, exit_code = %s, last_error = %s, updated_at = %s,
    worker_id = NULL, lease_expires_at = NULL
WHERE seq = (
    SELECT seq FROM jobs
    WHERE id = %s AND {from:succeed|retry|bury} AND worker_id = %s AND runs = %s
      AND lease_expires_at = %s
    FOR UPDATE SKIP LOCKED
)

-- name: finish_attempt
UPDATE attempts
SET finished_at = %s, exit_code = %s, timed_out = %s, error = %s,
    stdout = %s, stderr = %s, stdout_total = %s, stderr_total = %s
WHERE job_id = %s AND attempt = %s

-- name: attempt_finished_as
-- Whether this attempt already ended exactly as the caller says (a retried finish).
SELECT EXISTS (
    SELECT 1 FROM attempts
    WHERE job_id = %s AND attempt = %s AND finished_at = %s
      AND exit_code IS NOT DISTINCT FROM %s AND error IS NOT DISTINCT FROM %s
)

-- name: release_job
-- A claim given back unstarted: as if it never happened (lifecycle.on_forced_stop).
UPDATE jobs
SET state = %s, attempts = attempts - 1, runs = runs - 1, next_run_at = %s,
    updated_at = %s, worker_id = NULL, lease_expires_at = NULL
WHERE id = %s AND {from:release} AND worker_id = %s AND runs = %s

-- name: drop_attempt
DELETE FROM attempts WHERE job_id = %s AND attempt = %s

-- name: keep_job
-- A forced stop: back to pending, the attempt given back to the budget but kept in the
-- history (so ``runs`` stays), to be marked by interrupt_attempt.
UPDATE jobs
SET state = %s, attempts = attempts - 1, next_run_at = %s, updated_at = %s,
    worker_id = NULL, lease_expires_at = NULL
WHERE id = %s AND {from:release} AND worker_id = %s AND runs = %s

-- name: interrupt_attempt
UPDATE attempts
SET finished_at = %s, exit_code = %s, timed_out = %s, error = %s,
    stdout = %s, stderr = %s, stdout_total = %s, stderr_total = %s, interrupted = true
WHERE job_id = %s AND attempt = %s

-- name: attempt_interrupted_as
-- For a retried forced stop: whether this worker's attempt was already kept as interrupted.
SELECT EXISTS (
    SELECT 1 FROM attempts
    WHERE job_id = %(job)s AND attempt = %(runs)s AND worker_id = %(worker)s
      AND interrupted AND finished_at = %(finished)s
)

-- name: attempt_held
-- For a retried release: the job still exists, and whether the attempt row that the
-- claim created for this worker is still there (a release deletes it; a recovery keeps it).
SELECT EXISTS (SELECT 1 FROM jobs WHERE id = %(job)s),
       EXISTS (SELECT 1 FROM attempts
               WHERE job_id = %(job)s AND attempt = %(runs)s AND worker_id = %(worker)s)

-- name: expired
SELECT {job_columns} FROM jobs
WHERE {live} AND lease_expires_at < %s
ORDER BY lease_expires_at LIMIT %s

-- name: analyze_jobs
-- After a large batch: statistics that still say "nothing is claimable" lead the planner to
-- scan a whole partial index for what one index probe would find.
ANALYZE jobs

-- name: next_due
SELECT min(next_run_at) FROM jobs WHERE {claimable}

-- name: next_due_queues
SELECT min(d.due)
FROM unnest(%s::text[]) AS q(name)
CROSS JOIN LATERAL (
    SELECT min(next_run_at) AS due FROM jobs
    WHERE {claimable} AND queue = q.name
) AS d

-- The dashboard's reads (web/). Pages go by key (seq), never by OFFSET: a page of the newest
-- jobs costs the same at a million jobs as at ten.

-- name: max_seq
SELECT coalesce(max(seq), 0) FROM jobs

-- name: page_jobs
-- The floor bounds a text search to a window of seq, so one request never scans every job.
SELECT {job_columns}, seq FROM jobs
WHERE seq < %(before)s AND seq >= %(floor)s
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
  AND (%(text)s::text IS NULL OR strpos(id, %(text)s) > 0 OR strpos(command, %(text)s) > 0)
  AND (%(error)s::text IS NULL OR last_error = %(error)s)
ORDER BY seq DESC LIMIT %(limit)s

-- name: page_jobs_state
SELECT {job_columns}, seq FROM jobs
WHERE state = %(state)s AND seq < %(before)s AND seq >= %(floor)s
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
  AND (%(text)s::text IS NULL OR strpos(id, %(text)s) > 0 OR strpos(command, %(text)s) > 0)
  AND (%(error)s::text IS NULL OR last_error = %(error)s)
ORDER BY seq DESC LIMIT %(limit)s

-- name: queue_load
-- Per queue, the jobs still to run (and how many of them are due), running and dead; each
-- part reads only its own partial index or range, so finished jobs cost nothing here.
SELECT queue, 'waiting', count(*), count(*) FILTER (WHERE next_run_at <= %(now)s),
       min(next_run_at) FILTER (WHERE next_run_at <= %(now)s)
FROM jobs WHERE {claimable} GROUP BY queue
UNION ALL
SELECT queue, 'live', count(*), 0, NULL FROM jobs WHERE {live} GROUP BY queue
UNION ALL
SELECT queue, 'dlq', count(*), 0, NULL FROM jobs WHERE {dlq} GROUP BY queue

-- name: finished_per_minute
-- Attempts that ended since a time, per minute: how many, and how many of them succeeded.
-- An attempt a forced stop interrupted is neither (it did not fail; it is run again).
SELECT floor(finished_at / 60)::bigint AS minute, count(*),
       count(*) FILTER (WHERE exit_code = 0 AND error IS NULL AND NOT timed_out)
FROM attempts
WHERE finished_at >= %s AND finished_at IS NOT NULL AND NOT interrupted
GROUP BY minute ORDER BY minute

-- name: dead_groups
SELECT last_error, count(*), max(updated_at) FROM jobs
WHERE {dlq}
GROUP BY last_error ORDER BY count(*) DESC, max(updated_at) DESC LIMIT %s

-- name: revive_some
-- Like revive, but each id on its own: the dead ones move, the others are left as they are.
-- Rows are locked in id order (no deadlock between two overlapping calls). On a retry, the
-- jobs this same call already revived (commit done, acknowledgement lost) carry its exact time.
WITH picked AS (
    SELECT seq FROM jobs
    WHERE id = ANY(%(ids)s::text[])
      AND ({from:revive} OR (%(retry)s AND state = %(state)s AND attempts = 0
                             AND updated_at = %(now)s AND next_run_at = %(next_run_at)s))
    ORDER BY id FOR UPDATE
)
UPDATE jobs
SET state = %(state)s, attempts = 0, next_run_at = %(next_run_at)s, updated_at = %(now)s,
    worker_id = NULL, lease_expires_at = NULL
FROM picked WHERE jobs.seq = picked.seq
RETURNING jobs.id

-- name: change_marker
-- What the dashboard polls to notice changes cheaply: the newest job, the jobs running and
-- when the last of them started, and the workers' counts (moved at each heartbeat). Revives
-- and retries also NOTIFY, which it hears at once.
SELECT (SELECT max(seq) FROM jobs),
       (SELECT count(*) FROM jobs WHERE {live}),
       (SELECT max(updated_at) FROM jobs WHERE {live}),
       (SELECT count(*) FROM workers),
       (SELECT coalesce(sum(jobs_done), 0) FROM workers)
