package sqldb

// Queued is how many SQLite writes wait for their turn (see Write).
func (db *DB) Queued() int {
	db.queueMu.Lock()
	defer db.queueMu.Unlock()
	return len(db.queue)
}

// Commits is how many SQLite write transactions committed.
func (db *DB) Commits() uint64 { return db.commits.Load() }
