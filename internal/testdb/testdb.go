// Package testdb gives each test package a fresh, migrated PostgreSQL database of its own,
// dropped when the tests end, so tests never depend on what a previous run left behind.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ballotflow/ballotflow/internal/store"
)

// ServerURLVar names the variable that points tests at a PostgreSQL server other than the
// local one. The database in it is only used to create and drop test databases.
const ServerURLVar = "BALLOTFLOW_TEST_DATABASE_URL"

const defaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// New creates a database named ballotflow_test_<random>, applies the migrations, and
// returns its URL. The database is dropped when t's tests finish.
func New(t testing.TB) string {
	t.Helper()
	url := NewEmpty(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := store.Migrate(ctx, url); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return url
}

// NewEmpty is New without the migrations: for a test that runs an earlier release's
// binary, which migrates the database to its own schema.
func NewEmpty(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := os.Getenv(ServerURLVar)
	if server == "" {
		server = defaultServerURL
	}
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		t.Fatalf("testdb: %s: %v", ServerURLVar, err)
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	name := "ballotflow_test_" + hex.EncodeToString(suffix[:])
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("testdb: connect to PostgreSQL (run `make test`, which starts it, or set %s): %v", ServerURLVar, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testdb: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Logf("testdb: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testdb: drop %s: %v", name, err)
		}
	})
	dbCfg := cfg.Copy()
	dbCfg.Database = name
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", dbCfg.User, dbCfg.Host, dbCfg.Port, name)
	if dbCfg.Password != "" {
		url = fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", dbCfg.User, dbCfg.Password, dbCfg.Host, dbCfg.Port, name)
	}
	return url
}

// Open returns a Store on a fresh database, closed when t's tests finish.
func Open(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), New(t))
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(st.Close)
	return st
}

// TerminateSessions ends every session on the database of st but the one it opens to do so,
// as a database restart or failover would, waits until each has ended, and returns how many
// it ended.
func TerminateSessions(t testing.TB, st *store.Store) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, st.Pool().Config().ConnConfig.Copy())
	if err != nil {
		t.Fatalf("testdb: connect to terminate sessions: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `
		SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t`).Scan(&n)
	if err != nil {
		t.Fatalf("testdb: terminate sessions: %v", err)
	}
	return n
}
