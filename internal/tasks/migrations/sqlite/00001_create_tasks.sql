-- +goose Up
CREATE TABLE tasks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    done       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);

-- revision counts committed writes to tasks; every write transaction bumps
-- it, so a cached list can say which state of the table it shows.
CREATE TABLE tasklist_meta (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO tasklist_meta (id, revision) VALUES (1, 0);

-- +goose Down
DROP TABLE tasklist_meta;
DROP TABLE tasks;
