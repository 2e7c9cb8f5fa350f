package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/migrations"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// sxp migrate up, down and version on one empty database, as an operator
// runs them.
func TestMigrateCommand(t *testing.T) {
	db := pgtest.NewEmptyDatabase(t)
	latest := migrations.Latest()
	// Versions may leave gaps (parallel branches reserve numbers): two
	// steps down is the third-highest version, not latest-2.
	var versions []uint
	entries, err := fs.ReadDir(migrations.Files(), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var v uint
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && !slices.Contains(versions, v) {
			versions = append(versions, v)
		}
	}
	slices.Sort(versions)
	twoDown := versions[len(versions)-3]
	tests := []struct {
		args []string
		code int
		out  string // stdout, or a part of stderr when code != 0
	}{
		{[]string{"version"}, 0, fmt.Sprintf("version 0 (latest %d, clean)\n", latest)},
		{[]string{"down"}, 0, "schema at version 0\n"},
		{[]string{"up"}, 0, fmt.Sprintf("schema at version %d (latest %d)\n", latest, latest)},
		{[]string{"up"}, 0, fmt.Sprintf("schema at version %d (latest %d)\n", latest, latest)},
		{[]string{"down", "2"}, 0, fmt.Sprintf("schema at version %d\n", twoDown)},
		{[]string{"version"}, 0, fmt.Sprintf("version %d (latest %d, clean)\n", twoDown, latest)},
		{[]string{"down", "99"}, 0, "schema at version 0\n"},
		{[]string{"down", "--all"}, 0, "schema at version 0\n"},
		{[]string{"down", "zero"}, 2, `N must be a positive number, got "zero"`},
		{[]string{"down", "1", "2"}, 2, "too many arguments"},
		{[]string{"up", "now"}, 2, `unexpected arguments ["now"]`},
		{[]string{"version", "x"}, 2, `unexpected arguments ["x"]`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		args := append([]string{"migrate"}, tt.args...)
		code := run(context.Background(), append(args, "--database", db), &stdout, &stderr)
		got := stdout.String()
		if tt.code != 0 {
			got = stderr.String()
		}
		if code != tt.code || (tt.code == 0 && got != tt.out) || (tt.code != 0 && !strings.Contains(got, tt.out)) {
			t.Errorf("sxp %s: got exit %d, %q; want exit %d, %q", strings.Join(args, " "), code, got, tt.code, tt.out)
		}
	}
	var stdout, stderr bytes.Buffer
	t.Setenv("DATABASE_URL", "")
	if code := run(context.Background(), []string{"migrate", "up"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "DATABASE_URL") {
		t.Errorf("sxp migrate up without a database: got exit %d, %q; want exit 2 naming DATABASE_URL", code, stderr.String())
	}
}
