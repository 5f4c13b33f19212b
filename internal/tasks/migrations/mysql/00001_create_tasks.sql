-- +goose Up
CREATE TABLE tasks (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name       VARCHAR(200) NOT NULL,
    done       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- revision counts committed writes to tasks; every write transaction bumps
-- it, so a cached list can say which state of the table it shows.
CREATE TABLE tasklist_meta (
    id       INT NOT NULL PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
) ENGINE=InnoDB;
INSERT INTO tasklist_meta (id, revision) VALUES (1, 0);

-- +goose Down
DROP TABLE tasklist_meta;
DROP TABLE tasks;
