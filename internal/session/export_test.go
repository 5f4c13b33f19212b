package session

// Migrations are the embedded migrations, for tests that migrate as an
// earlier build did.
var Migrations = migrations
