package migrations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Ready is the readiness check of both servers: the database answers
// within 3 seconds and its schema is at this binary's Latest migration.
func Ready(ctx context.Context, pool *pgxpool.Pool) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var v int64
	var dirty bool
	if err := pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&v, &dirty); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
			return fmt.Errorf("no schema: run sxp migrate up")
		}
		return fmt.Errorf("database: %w", err)
	}
	if dirty || uint(v) != Latest() {
		return fmt.Errorf("schema at version %d (dirty=%v), want %d: run sxp migrate up", v, dirty, Latest())
	}
	return nil
}
