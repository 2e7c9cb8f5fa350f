// Package migrations holds the SQL schema of both servers as golang-migrate
// migrations, embedded in the binary. One migration set serves the clearing
// house and every community server, each in its own database.
package migrations

import (
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed *.sql
var files embed.FS

// Files returns the embedded migration files.
func Files() fs.FS { return files }

// Migrator runs the embedded migrations against one database.
type Migrator struct {
	m  *migrate.Migrate
	db *sql.DB
}

// Open connects to databaseURL (a postgres:// URL or key=value DSN).
func Open(databaseURL string) (*Migrator, error) {
	if databaseURL == "" {
		return nil, errors.New("migrations: no database URL (set DATABASE_URL or --database)")
	}
	cfg, err := pgxConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	driver, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{MigrationsTable: "schema_migrations"})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrations: connect: %w", err)
	}
	src, err := iofs.New(files, ".")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrations: source: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return &Migrator{m: m, db: db}, nil
}

// Close releases the connection.
func (m *Migrator) Close() error {
	srcErr, dbErr := m.m.Close()
	return errors.Join(srcErr, dbErr, m.db.Close())
}

// Up applies every pending migration. Being current already is not an error.
func (m *Migrator) Up() error {
	if err := m.m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrations: up: %w", err)
	}
	return nil
}

// Down reverts n migrations; n <= 0 reverts all of them. Reverting more
// than are applied reverts them all; none applied is not an error.
func (m *Migrator) Down(n int) error {
	var err error
	if n <= 0 {
		err = m.m.Down()
	} else {
		err = m.m.Steps(-n)
	}
	var short migrate.ErrShortLimit
	if errors.As(err, &short) {
		err = nil // fewer than n were applied, and they are reverted
	}
	if errors.Is(err, os.ErrNotExist) {
		if v, _, verr := m.Version(); verr == nil && v == 0 {
			err = nil // nothing was applied
		}
	}
	if err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrations: down: %w", err)
	}
	return nil
}

// Version reports the applied version (0 when none) and whether a failed
// migration left the schema dirty.
func (m *Migrator) Version() (version uint, dirty bool, err error) {
	v, d, err := m.m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("migrations: version: %w", err)
	}
	return v, d, nil
}

// Latest is the highest version among the embedded migrations: the version a
// current database reports.
func Latest() uint {
	vs := Versions()
	if len(vs) == 0 {
		return 0
	}
	return vs[len(vs)-1]
}

// Versions returns the versions of the embedded migrations, ascending.
// They need not be contiguous: parallel branches are given numbers ahead,
// and golang-migrate steps over the gaps.
func Versions() []uint {
	var out []uint
	for _, name := range names() {
		var v uint
		if _, err := fmt.Sscanf(name, "%d_", &v); err == nil && (len(out) == 0 || out[len(out)-1] != v) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Fingerprint is a hash of every embedded migration file, used by tests to
// name a template database that matches this exact schema.
func Fingerprint() string {
	h := sha256.New()
	for _, name := range names() {
		b, _ := fs.ReadFile(files, name)
		h.Write([]byte(name))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}
