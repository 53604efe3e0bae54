-- The first schema: jobs, their attempt history, workers and config.
-- Times are REAL seconds since the epoch (UTC).

CREATE TABLE jobs (
    seq              INTEGER PRIMARY KEY,          -- insertion order; "newest first" lists
    id               TEXT    NOT NULL UNIQUE,
    command          TEXT    NOT NULL,
    queue            TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN
                         ('pending', 'processing', 'completed', 'failed', 'dead')),
    priority         INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,   -- spent from the retry budget
    runs             INTEGER NOT NULL DEFAULT 0,   -- rows in attempts; never reset
    max_retries      INTEGER NOT NULL,
    backoff_base     REAL    NOT NULL,
    timeout          REAL,
    run_at           REAL    NOT NULL,
    next_run_at      REAL,                         -- when claimable; NULL once not
    created_at       REAL    NOT NULL,
    updated_at       REAL    NOT NULL,
    exit_code        INTEGER,
    last_error       TEXT,
    worker_id        TEXT,
    lease_expires_at REAL,
    cwd              TEXT    NOT NULL,
    env              TEXT                          -- JSON object, NULL when empty
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
-- Counts per state, and `list --state` newest first.
CREATE INDEX jobs_state ON jobs (state, seq);
-- Every index costs each enqueue (a bulk enqueue runs at half speed with these five), so
-- `list --queue` scans newest first and stops at its limit, and a queue's next due time
-- is read off jobs_claim_queue.

CREATE TABLE attempts (
    job_id       TEXT    NOT NULL,
    attempt      INTEGER NOT NULL,                 -- 1-based position in the history
    worker_id    TEXT,
    started_at   REAL    NOT NULL,
    finished_at  REAL,
    exit_code    INTEGER,
    timed_out    INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    stdout       BLOB,
    stderr       BLOB,
    stdout_total INTEGER NOT NULL DEFAULT 0,
    stderr_total INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, attempt)
);

CREATE TABLE workers (
    id             TEXT    PRIMARY KEY,
    host           TEXT    NOT NULL,
    pid            INTEGER NOT NULL,
    supervisor_pid INTEGER,
    queues         TEXT,                           -- JSON array, NULL for every queue
    started_at     REAL    NOT NULL,
    heartbeat_at   REAL    NOT NULL,
    jobs_done      INTEGER NOT NULL DEFAULT 0,     -- as of the last heartbeat
    stop_requested INTEGER NOT NULL DEFAULT 0,
    wake           TEXT
);

CREATE TABLE config (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
