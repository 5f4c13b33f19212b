-- +goose Up
-- database_id names this database in every cache key and ETag, so that a
-- cache shared by several databases (a new one, another app's, a copy) never
-- serves one database's entries for another. The app gives it a random value
-- when it is NULL: after this migration, and whenever an operator sets it to
-- NULL to give a copied database an identity of its own.
ALTER TABLE tasklist_meta ADD COLUMN database_id VARCHAR(32) NULL;

-- Every change to tasks moves the revision, whoever makes it (the app, or an
-- operator in SQL), so that the caches' periodic check against the database
-- sees it. The revision jumps to the current time in microseconds when that
-- is ahead: revisions never repeat, not even after a restored dump took the
-- counter back, so no entry of the abandoned history matches a new state.
-- (With binary logging on, creating triggers needs the TRIGGER privilege and
-- log_bin_trust_function_creators, or SUPER.)
CREATE TRIGGER tasks_revision_insert AFTER INSERT ON tasks FOR EACH ROW
    UPDATE tasklist_meta SET revision = GREATEST(revision + 1, CAST(UNIX_TIMESTAMP(SYSDATE(6)) * 1000000 AS SIGNED)) WHERE id = 1;
CREATE TRIGGER tasks_revision_update AFTER UPDATE ON tasks FOR EACH ROW
    UPDATE tasklist_meta SET revision = GREATEST(revision + 1, CAST(UNIX_TIMESTAMP(SYSDATE(6)) * 1000000 AS SIGNED)) WHERE id = 1;
CREATE TRIGGER tasks_revision_delete AFTER DELETE ON tasks FOR EACH ROW
    UPDATE tasklist_meta SET revision = GREATEST(revision + 1, CAST(UNIX_TIMESTAMP(SYSDATE(6)) * 1000000 AS SIGNED)) WHERE id = 1;

-- +goose Down
DROP TRIGGER tasks_revision_delete;
DROP TRIGGER tasks_revision_update;
DROP TRIGGER tasks_revision_insert;
ALTER TABLE tasklist_meta DROP COLUMN database_id;
