-- The same table and meaning as sql/sqlite/migrations/0004_stop_marks.sql.

CREATE TABLE stop_marks (
    name text PRIMARY KEY,              -- 'stop': the only mark so far
    at   double precision NOT NULL      -- supervisors launched at or before this time stop
);
