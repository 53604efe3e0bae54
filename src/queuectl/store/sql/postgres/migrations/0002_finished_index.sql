-- The dashboard charts the attempts that finished in the last hour; without this index that
-- is a scan of the whole history.
CREATE INDEX attempts_finished ON attempts (finished_at) WHERE finished_at IS NOT NULL;
