-- The first schema: jobs, their attempt history, workers and config.
-- The same tables, columns and meanings as sql/sqlite/migrations/0001_init.sql.
-- Times are double precision seconds since the epoch (UTC), passed in by the caller.
-- Runs with search_path set to the store's schema, so names are unqualified.

CREATE TABLE jobs (
    seq              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insertion order
    id               text    NOT NULL UNIQUE,
    command          text    NOT NULL,
    queue            text    NOT NULL,
    state            text    NOT NULL CHECK (state IN
                         ('pending', 'processing', 'completed', 'failed', 'dead')),
    priority         integer NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,   -- spent from the retry budget
    runs             integer NOT NULL DEFAULT 0,   -- rows in attempts; never reset
    max_retries      integer NOT NULL,
    backoff_base     double precision NOT NULL,
    timeout          double precision,
    run_at           double precision NOT NULL,
    next_run_at      double precision,             -- when claimable; NULL once not
    created_at       double precision NOT NULL,
    updated_at       double precision NOT NULL,
    exit_code        integer,
    last_error       text,
    worker_id        text,
    lease_expires_at double precision,
    cwd              text    NOT NULL,
    env              text                          -- JSON object, NULL when empty
);

-- The claim: best priority, then earliest due, then oldest, among claimable jobs.
CREATE INDEX jobs_claim ON jobs (priority DESC, next_run_at, seq)
    WHERE state IN ('pending', 'failed');
CREATE INDEX jobs_claim_queue ON jobs (queue, priority DESC, next_run_at, seq)
    WHERE state IN ('pending', 'failed');
-- When does the next job become due (idle workers sleep until then).
CREATE INDEX jobs_due ON jobs (next_run_at) WHERE state IN ('pending', 'failed');
-- Lease recovery looks only at processing jobs.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'processing';
-- Counts per state, and `list --state` / `list --queue` newest first.
CREATE INDEX jobs_state ON jobs (state, seq);
-- No (queue, seq) index: `list --queue` scans newest first and stops at its limit; every
-- index is paid by every enqueue.

CREATE TABLE attempts (
    job_id       text    NOT NULL,
    attempt      integer NOT NULL,                 -- 1-based position in the history
    worker_id    text,
    started_at   double precision NOT NULL,
    finished_at  double precision,
    exit_code    integer,
    timed_out    boolean NOT NULL DEFAULT false,
    error        text,
    stdout       bytea,
    stderr       bytea,
    stdout_total bigint  NOT NULL DEFAULT 0,
    stderr_total bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, attempt)
);

CREATE TABLE workers (
    id             text    PRIMARY KEY,
    host           text    NOT NULL,
    pid            integer NOT NULL,
    supervisor_pid integer,
    queues         text,                           -- JSON array, NULL for every queue
    started_at     double precision NOT NULL,
    heartbeat_at   double precision NOT NULL,
    jobs_done      bigint  NOT NULL DEFAULT 0,     -- as of the last heartbeat
    stop_requested integer NOT NULL DEFAULT 0,
    wake           text
);

CREATE TABLE config (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- A queue table is rewritten far faster than PostgreSQL's defaults expect: every job is
-- updated three or four times. Vacuum and re-analyse after 2% of the rows changed (not 20%
-- and 10%), so that dead claim-index entries are cleared and the planner keeps knowing how
-- many jobs are claimable.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.02,
                      autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE attempts SET (autovacuum_vacuum_scale_factor = 0.05,
                          autovacuum_analyze_scale_factor = 0.05);
