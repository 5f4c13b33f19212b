-- +goose Up
-- database_id names this database in every cache key and ETag, so that a
-- cache shared by several databases (a new one, another app's, a copy) never
-- serves one database's entries for another. The app gives it a random value
-- when it is NULL: after this migration, and whenever an operator sets it to
-- NULL to give a copied database an identity of its own.
ALTER TABLE tasklist_meta ADD COLUMN database_id VARCHAR(32) NULL;

-- Every change to tasks moves the revision, whoever makes it (the app, or an
-- operator in SQL, TRUNCATE included), so that the caches' periodic check
-- against the database sees it. The revision jumps to the current time in
-- microseconds when that is ahead: revisions never repeat, not even after a
-- restored dump took the counter back, so no entry of the abandoned history
-- matches a new state.
-- +goose StatementBegin
CREATE FUNCTION tasklist_bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tasklist_meta
       SET revision = GREATEST(revision + 1, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT)
     WHERE id = 1;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER tasks_revision AFTER INSERT OR UPDATE OR DELETE ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION tasklist_bump_revision();
CREATE TRIGGER tasks_revision_truncate AFTER TRUNCATE ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION tasklist_bump_revision();

-- +goose Down
DROP TRIGGER tasks_revision_truncate ON tasks;
DROP TRIGGER tasks_revision ON tasks;
DROP FUNCTION tasklist_bump_revision();
ALTER TABLE tasklist_meta DROP COLUMN database_id;
