package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Query is one statement and its arguments, for UsesIndexes. It is an
// unnamed struct type so that callers may write {sql, args} (go vet asks
// for keyed fields in literals of another package's named struct types).
type Query = struct {
	SQL  string
	Args []any
}

// UsesIndexes fails t for each of queries (by name) whose plan, with
// sequential scans disabled, still scans a table sequentially: the planner
// picks a "Seq Scan" anyway when no index fits, so one in the plan means a
// missing index. The queries are only explained, never run.
func UsesIndexes(t testing.TB, pool *pgxpool.Pool, queries map[string]Query) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	for name, q := range queries {
		rows, err := conn.Query(ctx, `EXPLAIN `+q.SQL, q.Args...)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		if p := strings.Join(plan, "\n"); strings.Contains(p, "Seq Scan") {
			t.Errorf("%s scans its table sequentially:\n%s", name, p)
		}
	}
}
