package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TryLock takes PostgreSQL's session advisory lock key on a connection of
// its own, for work that must run once at a time across every process on
// the database. ok is false, with nothing held, when another session holds
// it. unlock releases the lock and the connection; when the unlock itself
// fails the session is closed, which drops the lock.
func TryLock(ctx context.Context, pool *pgxpool.Pool, key int64) (unlock func(), ok bool, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %d: %w", key, err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("lock %d: %w", key, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() {
		if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, key); err != nil {
			conn.Conn().Close(context.Background())
		}
		conn.Release()
	}, true, nil
}
