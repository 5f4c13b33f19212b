-- +goose Up
-- expiry is Unix microseconds: one integer type on every database.
CREATE TABLE tasklist_sessions (
    token  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    data   MEDIUMBLOB NOT NULL,
    expiry BIGINT NOT NULL,
    INDEX tasklist_sessions_expiry (expiry)
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE tasklist_sessions;
