package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/sxp-network/sxp/migrations"
)

func migrateCommand(stdout io.Writer) *command {
	dbFlag := func(fs *flag.FlagSet) *string {
		return envDatabase(fs, "database", "DATABASE_URL", "PostgreSQL URL, e.g. postgres://user@127.0.0.1:5432/sxp")
	}
	open := func(url string) (*migrations.Migrator, error) {
		if url == "" {
			return nil, usagef("set DATABASE_URL or --database")
		}
		return migrations.Open(url)
	}
	return &command{
		name:    "migrate",
		summary: "apply or revert the database schema",
		help: `Apply or revert the SQL migrations embedded in this binary. One migration set
serves the clearing house and every community server, each in its own database.`,
		subs: []*command{
			{
				name: "up", summary: "apply every pending migration", usage: "sxp migrate up [--database URL]",
				flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
					db := dbFlag(fs)
					return func(ctx context.Context, args []string) error {
						if len(args) > 0 {
							return usagef("unexpected arguments %q", args)
						}
						m, err := open(*db)
						if err != nil {
							return err
						}
						defer m.Close()
						if err := m.Up(); err != nil {
							return err
						}
						v, _, err := m.Version()
						if err != nil {
							return err
						}
						fmt.Fprintf(stdout, "schema at version %d (latest %d)\n", v, migrations.Latest())
						return nil
					}
				},
			},
			{
				name: "down", summary: "revert migrations (one by default, --all for every one)", usage: "sxp migrate down [--database URL] [--all | N]",
				flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
					db := dbFlag(fs)
					all := fs.Bool("all", false, "revert every migration (drops all SXP tables and their data)")
					return func(ctx context.Context, args []string) error {
						n := 1
						if *all {
							n = 0
						} else if len(args) == 1 {
							v, err := strconv.Atoi(args[0])
							if err != nil || v < 1 {
								return usagef("N must be a positive number, got %q", args[0])
							}
							n = v
						} else if len(args) > 1 {
							return usagef("too many arguments")
						}
						m, err := open(*db)
						if err != nil {
							return err
						}
						defer m.Close()
						if err := m.Down(n); err != nil {
							return err
						}
						v, _, err := m.Version()
						if err != nil {
							return err
						}
						fmt.Fprintf(stdout, "schema at version %d\n", v)
						return nil
					}
				},
			},
			{
				name: "version", summary: "print the applied schema version", usage: "sxp migrate version [--database URL]",
				flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
					db := dbFlag(fs)
					return func(ctx context.Context, args []string) error {
						if len(args) > 0 {
							return usagef("unexpected arguments %q", args)
						}
						m, err := open(*db)
						if err != nil {
							return err
						}
						defer m.Close()
						v, dirty, err := m.Version()
						if err != nil {
							return err
						}
						state := "clean"
						if dirty {
							state = "dirty: a migration failed half way; fix it and force the version"
						}
						fmt.Fprintf(stdout, "version %d (latest %d, %s)\n", v, migrations.Latest(), state)
						return nil
					}
				},
			},
		},
	}
}
