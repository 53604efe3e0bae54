-- A forced stop keeps the attempt it interrupted, with its output, marked so that it is
-- told apart from a failure (it did not spend the retry budget).
ALTER TABLE attempts ADD COLUMN interrupted boolean NOT NULL DEFAULT false;
