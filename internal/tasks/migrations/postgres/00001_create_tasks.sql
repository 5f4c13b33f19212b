-- +goose Up
CREATE TABLE tasks (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       VARCHAR(200) NOT NULL,
    done       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- revision counts committed writes to tasks; every write transaction bumps
-- it, so a cached list can say which state of the table it shows.
CREATE TABLE tasklist_meta (
    id       INT PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO tasklist_meta (id, revision) VALUES (1, 0);

-- +goose Down
DROP TABLE tasklist_meta;
DROP TABLE tasks;
