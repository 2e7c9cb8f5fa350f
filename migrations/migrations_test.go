package migrations_test

import (
	"context"
	"fmt"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/migrations"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// TestUpDownUp applies every migration, reverts them all, and applies them
// again, checking the version and the tables at each step.
func TestUpDownUp(t *testing.T) {
	url := pgtest.NewEmptyDatabase(t)
	m, err := migrations.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	steps := []struct {
		name    string
		do      func() error
		version uint
		tables  bool
	}{
		{"up", m.Up, migrations.Latest(), true},
		{"down", func() error { return m.Down(0) }, 0, false},
		{"up again", m.Up, migrations.Latest(), true},
		{"up when current", m.Up, migrations.Latest(), true},
		{"down one", func() error { return m.Down(1) }, previousVersion(t), true},
		{"down more than are applied", func() error { return m.Down(int(migrations.Latest()) + 3) }, 0, false},
		{"down when none is applied", func() error { return m.Down(1) }, 0, false},
		{"down all when none is applied", func() error { return m.Down(0) }, 0, false},
		{"up from nothing", m.Up, migrations.Latest(), true},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		v, dirty, err := m.Version()
		if err != nil {
			t.Fatalf("%s: version: %v", st.name, err)
		}
		if v != st.version || dirty {
			t.Fatalf("%s: got version %d dirty=%v, want %d clean", st.name, v, dirty, st.version)
		}
		n := userTables(t, url)
		if st.tables && n == 0 {
			t.Fatalf("%s: got no tables, want the schema", st.name)
		}
		if !st.tables && n != 0 {
			t.Fatalf("%s: got %d tables left after down, want 0", st.name, n)
		}
	}
	if migrations.Latest() == 0 {
		t.Fatal("got latest version 0, want embedded migrations")
	}
}

// userTables counts tables other than golang-migrate's own.
func userTables(t *testing.T, url string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// previousVersion is the version below the latest among the embedded
// migrations (numbers may leave gaps: parallel branches reserve them).
func previousVersion(t *testing.T) uint {
	t.Helper()
	entries, err := fs.ReadDir(migrations.Files(), ".")
	if err != nil {
		t.Fatal(err)
	}
	var prev uint
	for _, e := range entries {
		var v uint
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && v < migrations.Latest() && v > prev {
			prev = v
		}
	}
	return prev
}
