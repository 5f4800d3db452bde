// Package store is ballotflow's PostgreSQL data access: the embedded, numbered migrations and
// the queries every other package uses. It is the only package that writes SQL.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is a pool of connections to ballotflow's database.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the database at databaseURL and checks that it answers.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("store: parse DATABASE_URL: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		// pgxpool's default is the CPU count (4 at least): too few for an API that streams a
		// roll import while answering the portal. pool_max_conns in DATABASE_URL overrides.
		cfg.MaxConns = 20
	}
	cfg.PrepareConn = idleConnAlive
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: ping %s: %w", redactedHost(databaseURL), err)
	}
	return &Store{pool: pool}, nil
}

// Close releases every connection.
func (s *Store) Close() { s.pool.Close() }

// Ping reports whether the database answers; /readyz uses it.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Pool exposes the pool for tests and benchmarks that need raw SQL.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// EnsureDatabase creates the database named in databaseURL when it does not exist yet, by
// connecting to the server's "postgres" database. Existing databases are left as they are.
func EnsureDatabase(ctx context.Context, databaseURL string) error {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("store: parse DATABASE_URL: %w", err)
	}
	name := cfg.Database
	if name == "" {
		return errors.New("store: DATABASE_URL names no database")
	}
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: connect to create database %q: %w", name, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("store: look for database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created meanwhile by another process
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: create database %q: %w", name, err)
	}
	return nil
}

// Migrate applies every embedded migration not yet applied. Concurrent callers are
// serialized by tern's advisory lock, so every replica may call it at start. A database
// already past this binary's migrations (a newer release migrated it) is left as it is:
// from == to > SchemaVersion().
func Migrate(ctx context.Context, databaseURL string) (from, to int32, err error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return 0, 0, fmt.Errorf("store: connect for migrations: %w", err)
	}
	defer conn.Close(ctx)
	m, err := migrate.NewMigrator(ctx, conn, "schema_version")
	if err != nil {
		return 0, 0, fmt.Errorf("store: migrator: %w", err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return 0, 0, err
	}
	if err := m.LoadMigrations(sub); err != nil {
		return 0, 0, fmt.Errorf("store: load migrations: %w", err)
	}
	from, err = m.GetCurrentVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("store: current schema version: %w", err)
	}
	if from > int32(len(m.Migrations)) {
		// A newer release has migrated the database while this one still runs (a rolling
		// deploy, or a worker of the previous release restarting). Migrations only add
		// (expand now, contract a release later), so this binary runs on the newer schema;
		// migrating "down" to what it knows would drop what the new release relies on.
		return from, from, nil
	}
	if err := m.Migrate(ctx); err != nil {
		return from, 0, fmt.Errorf("store: migrate: %w", err)
	}
	to, err = m.GetCurrentVersion(ctx)
	return from, to, err
}

// redactedHost names the server of a database URL without its password, for error messages.
func redactedHost(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Host == "" {
		return "the database"
	}
	return strings.TrimPrefix(u.Host+u.Path, "/")
}

// querier is what both a pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// connectionAttempts bounds how often a transaction starts over on a new connection after
// its connection died before commit (a restart or failover while it ran).
const connectionAttempts = 4

// inTx runs fn in a transaction, committing on success. A transaction that meets a dead
// connection before its commit is sent (a database restart, a failover, a terminated
// backend) is run again on another connection: the server rolled it back, so fn starts
// over from nothing, and fn must set its results afresh on every call. A failed commit is
// never repeated, since the server may have applied it.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		retry, err := s.tryTx(ctx, fn)
		if !retry || attempt == connectionAttempts || ctx.Err() != nil {
			return err
		}
	}
}

// tryTx runs one attempt of inTx and says whether it may be repeated.
func (s *Store) tryTx(ctx context.Context, fn func(tx pgx.Tx) error) (retry bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		// BEGIN changes nothing, whatever became of it.
		return true, err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return tx.Conn().IsClosed() || connectionLost(err), err
	}
	return false, tx.Commit(ctx)
}

// connectionLost reports whether err says the connection died before the server could act
// on the statement: nothing was sent, or the server had already ended the session
// (admin_shutdown, crash_shutdown, cannot_connect_now).
func connectionLost(err error) bool {
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03")
}

// notFound maps pgx.ErrNoRows to ErrNotFound, wrapping with what was looked for.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// SchemaVersion is the number of migrations embedded in this binary: the schema version it
// migrates to.
func SchemaVersion() int32 {
	entries, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return 0
	}
	return int32(len(entries))
}
