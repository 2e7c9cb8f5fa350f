package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/server/announce"
)

// categoriesCommand manages a community's category list of offers and
// wants, directly on its database (the admin API and page do the same).
func categoriesCommand(stdout io.Writer) *command {
	leaf := func(name, summary, usage string, nargs int, extra func(fs *flag.FlagSet),
		run func(ctx context.Context, svc *announce.Service, args []string) error) *command {
		return &command{name: name, summary: summary, usage: usage,
			flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
				db := envDatabase(fs, "database", "DATABASE_URL", "PostgreSQL URL of the community's database")
				if extra != nil {
					extra(fs)
				}
				return func(ctx context.Context, args []string) error {
					if len(args) != nargs {
						return usagef("want %d argument(s), got %d", nargs, len(args))
					}
					if *db == "" {
						return usagef("no database: set DATABASE_URL or --database")
					}
					pool, err := pgxpool.New(ctx, *db)
					if err != nil {
						return fmt.Errorf("database: %w", err)
					}
					defer pool.Close()
					svc, err := announce.New(ctx, pool, announce.Config{KeepIndex: true})
					if err != nil {
						return err
					}
					return categoryError(run(ctx, svc, args))
				}
			}}
	}
	var newSlug string
	return &command{
		name:    "categories",
		summary: "list, add, rename and delete the categories of offers and wants",
		help: `Manage the category list of a community's offers and wants, directly on its
database (DATABASE_URL or --database). A slug is 1-40 lowercase letters, digits
or '-'; a name is what members see and search for. A category that
announcements use cannot be deleted.`,
		subs: []*command{
			leaf("list", "list the categories with their active announcements", "sxp categories list [--database URL]", 0, nil,
				func(ctx context.Context, svc *announce.Service, args []string) error {
					list, err := svc.Categories(ctx)
					if err != nil {
						return err
					}
					w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "SLUG\tNAME\tACTIVE")
					for _, c := range list {
						fmt.Fprintf(w, "%s\t%s\t%d\n", c.Slug, c.Name, c.Active)
					}
					return w.Flush()
				}),
			leaf("add", "add a category", "sxp categories add SLUG NAME [--database URL]", 2, nil,
				func(ctx context.Context, svc *announce.Service, args []string) error {
					c, err := svc.CreateCategory(ctx, args[0], args[1])
					if err != nil {
						return err
					}
					fmt.Fprintf(stdout, "added %s (%s)\n", c.Slug, c.Name)
					return nil
				}),
			leaf("rename", "rename a category (--slug changes its slug too)", "sxp categories rename SLUG NAME [--slug NEW-SLUG] [--database URL]", 2,
				func(fs *flag.FlagSet) { fs.StringVar(&newSlug, "slug", "", "a new slug") },
				func(ctx context.Context, svc *announce.Service, args []string) error {
					slug := announce.Field[string]{}
					if newSlug != "" {
						slug = announce.To(newSlug)
					}
					c, err := svc.UpdateCategory(ctx, args[0], slug, announce.To(args[1]))
					if err != nil {
						return err
					}
					fmt.Fprintf(stdout, "renamed %s to %s (%s)\n", args[0], c.Slug, c.Name)
					return nil
				}),
			leaf("delete", "delete a category no announcement uses", "sxp categories delete SLUG [--database URL]", 1, nil,
				func(ctx context.Context, svc *announce.Service, args []string) error {
					if err := svc.DeleteCategory(ctx, args[0]); err != nil {
						return err
					}
					fmt.Fprintf(stdout, "deleted %s\n", args[0])
					return nil
				}),
		},
	}
}

// categoryError words a refusal for the command line.
func categoryError(err error) error {
	if e, ok := announce.AsError(err); ok {
		if e.Field != "" {
			return fmt.Errorf("%s: %s", e.Field, e.Message)
		}
		return fmt.Errorf("%s", e.Message)
	}
	return err
}
