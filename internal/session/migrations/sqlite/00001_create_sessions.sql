-- +goose Up
-- expiry is Unix microseconds: one integer type on every database.
CREATE TABLE tasklist_sessions (
    token  TEXT PRIMARY KEY,
    data   BLOB NOT NULL,
    expiry INTEGER NOT NULL
);
CREATE INDEX tasklist_sessions_expiry ON tasklist_sessions (expiry);

-- +goose Down
DROP TABLE tasklist_sessions;
