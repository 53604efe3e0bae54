-- `worker stop` stops every supervisor of the store started before it, also one that is
-- still starting and has no worker registered yet: it leaves the time here, and a worker
-- whose supervisor was launched before it stops as soon as it registers.

CREATE TABLE stop_marks (
    name TEXT PRIMARY KEY,   -- 'stop': the only mark so far
    at   REAL NOT NULL       -- supervisors launched at or before this time stop
);
