package pgtest

import (
	"fmt"
	"strings"
	"testing"
)

// errors keeps what UsesIndexes reports instead of failing the test.
type errors struct {
	testing.TB
	got []string
}

func (e *errors) Errorf(format string, args ...any) {
	e.got = append(e.got, fmt.Sprintf(format, args...))
}

// TestUsesIndexesFindsSequentialScans: a lookup by primary key passes; a
// lookup no index serves is named.
func TestUsesIndexesFindsSequentialScans(t *testing.T) {
	t.Parallel()
	e := &errors{TB: t}
	UsesIndexes(e, NewPool(t), map[string]Query{
		"by id":    {`SELECT id FROM ledger_accounts WHERE id = $1`, []any{int64(1)}},
		"by lower": {`SELECT id FROM ledger_accounts WHERE lower(code) = $1`, []any{"x"}},
	})
	if len(e.got) != 1 || !strings.HasPrefix(e.got[0], "by lower scans its table sequentially:\n") || !strings.Contains(e.got[0], "Seq Scan on ledger_accounts") {
		t.Errorf("got %q, want one error naming \"by lower\"", e.got)
	}
}
