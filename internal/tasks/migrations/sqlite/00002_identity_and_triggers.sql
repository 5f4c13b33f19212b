-- +goose Up
-- database_id names this database in every cache key and ETag, so that a
-- cache shared by several databases (a new one, another app's, a copy) never
-- serves one database's entries for another. The app gives it a random value
-- when it is NULL: after this migration, and whenever an operator sets it to
-- NULL to give a copied database an identity of its own.
ALTER TABLE tasklist_meta ADD COLUMN database_id TEXT;

-- Every change to tasks moves the revision, whoever makes it (the app, or an
-- operator in SQL), so that the caches' periodic check against the database
-- sees it. The revision jumps to the current time in microseconds when that
-- is ahead: revisions never repeat, not even after a restored dump took the
-- counter back, so no entry of the abandoned history matches a new state.
-- +goose StatementBegin
CREATE TRIGGER tasks_revision_insert AFTER INSERT ON tasks BEGIN
    UPDATE tasklist_meta SET revision = max(revision + 1, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)) WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tasks_revision_update AFTER UPDATE ON tasks BEGIN
    UPDATE tasklist_meta SET revision = max(revision + 1, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)) WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tasks_revision_delete AFTER DELETE ON tasks BEGIN
    UPDATE tasklist_meta SET revision = max(revision + 1, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER tasks_revision_delete;
DROP TRIGGER tasks_revision_update;
DROP TRIGGER tasks_revision_insert;
ALTER TABLE tasklist_meta DROP COLUMN database_id;
