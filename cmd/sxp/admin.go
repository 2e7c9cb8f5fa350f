package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/ledger"
)

// The governing body's commands work directly on the clearing house's
// database (DATABASE_URL or --database). Commands that issue or use keys
// need SXP_CLEARING_SECRET too. Every change is in the audit log with the
// actor "cli:USER".

// adminFlags declares --database and --secret and returns an opener.
func adminFlags(fs *flag.FlagSet) func(ctx context.Context) (*clearing.House, func(), error) {
	db := envDatabase(fs, "database", "DATABASE_URL", "PostgreSQL URL of the clearing house's database")
	secret := envSecret(fs, "secret", "SXP_CLEARING_SECRET", "server secret that encrypts the communities' keys")
	return func(ctx context.Context) (*clearing.House, func(), error) {
		if *db == "" {
			return nil, nil, usagef("set DATABASE_URL or --database")
		}
		pool, err := pgxpool.New(ctx, *db)
		if err != nil {
			return nil, nil, fmt.Errorf("setting DATABASE_URL (--database): %w", err)
		}
		h, err := clearing.New(pool, ledger.New(pool, ledger.Options{}), clearing.Options{Secret: *secret})
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		return h, pool.Close, nil
	}
}

func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

func oneArg(args []string, what string) (string, error) {
	if len(args) != 1 {
		return "", usagef("want exactly one %s, got %d arguments", what, len(args))
	}
	return args[0], nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// houseRun runs an admin command on an open house.
type houseRun = func(ctx context.Context, h *clearing.House, args []string) error

// leaf builds a leaf command whose run gets an open house.
func leaf(name, summary, usage string, setup func(fs *flag.FlagSet) houseRun) *command {
	return &command{name: name, summary: summary, usage: usage,
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			open := adminFlags(fs)
			run := setup(fs)
			return func(ctx context.Context, args []string) error {
				h, closer, err := open(ctx)
				if err != nil {
					return err
				}
				defer closer()
				return run(ctx, h, args)
			}
		}}
}

// plainLeaf builds a leaf command without flags of its own.
func plainLeaf(name, summary, usage string, run houseRun) *command {
	return leaf(name, summary, usage, func(*flag.FlagSet) houseRun { return run })
}

// withID wraps run so that it gets the command's one argument, what.
func withID(what string, run func(ctx context.Context, h *clearing.House, id string) error) houseRun {
	return func(ctx context.Context, h *clearing.House, args []string) error {
		id, err := oneArg(args, what)
		if err != nil {
			return err
		}
		return run(ctx, h, id)
	}
}

// printsJSON is a run that prints what get returns as JSON.
func printsJSON[T any](stdout io.Writer, get func(ctx context.Context, h *clearing.House) (T, error)) houseRun {
	return func(ctx context.Context, h *clearing.House, _ []string) error {
		v, err := get(ctx, h)
		if err != nil {
			return err
		}
		return printJSON(stdout, v)
	}
}

// parseLimits parses the --min and --max flags of a command in base units.
func parseLimits(min, max string, divisions int) (lo, hi int64, err error) {
	lo, err = clearing.ParseAmount(min, divisions)
	if err != nil {
		return 0, 0, usagef("--min: %v", err)
	}
	hi, err = clearing.ParseAmount(max, divisions)
	if err != nil {
		return 0, 0, usagef("--max: %v", err)
	}
	return lo, hi, nil
}

func adminCommand(stdout io.Writer) *command {
	return &command{
		name:    "admin",
		summary: "govern the intertrading circle (communities, rates, limits, keys, reports)",
		help: `Governing-body operations of the clearing house, run directly on its database
(DATABASE_URL or --database). Commands that issue keys need SXP_CLEARING_SECRET.
Amounts are base units as decimals (e.g. -1000 or -1000.00). Every change is audited.`,
		subs: []*command{
			{name: "circle", summary: "initialise and show the circle, set its policy", subs: []*command{
				adminCircleInit(stdout), adminCircleShow(stdout), adminCirclePolicy(stdout)}},
			{name: "community", summary: "add, block, unblock, list and show communities, set limits", subs: []*command{
				adminCommunityAdd(stdout), adminCommunityBlock(stdout), adminCommunityUnblock(stdout),
				adminCommunityList(stdout), adminCommunityShow(stdout), adminCommunityLimits(stdout)}},
			{name: "rate", summary: "set, approve and list communities' rates", subs: []*command{
				adminRateSet(stdout), adminRateApprove(stdout), adminRateHistory(stdout), adminRateFloating(stdout)}},
			{name: "key", summary: "rotate and list communities' keys", subs: []*command{
				adminKeyRotate(stdout), adminKeyList(stdout)}},
			{name: "token", summary: "admin API tokens", subs: []*command{adminTokenAdd(stdout), adminTokenRevoke(stdout)}},
			{name: "report", summary: "circle summary and community statements (JSON or CSV)", subs: []*command{
				adminReportSummary(stdout), adminReportStatement(stdout)}},
			{name: "records", summary: "export and verify the append-only record of intertrades", subs: []*command{
				adminRecordsExport(stdout), adminRecordsVerify(stdout)}},
			leaf("audit", "show the audit log, newest first", "sxp admin audit [--limit N]",
				func(fs *flag.FlagSet) houseRun {
					limit := fs.Int("limit", 50, "entries to show")
					return func(ctx context.Context, h *clearing.House, args []string) error {
						list, err := h.Audit(ctx, 0, *limit)
						if err != nil {
							return err
						}
						for _, e := range list {
							fmt.Fprintf(stdout, "%d %s %s %s %s before=%s after=%s\n", e.ID, e.CreatedAt.UTC().Format(time.RFC3339),
								e.Actor, e.Action, e.Subject, e.Before, e.After)
						}
						return nil
					}
				}),
			plainLeaf("monitor", "show monitoring alerts (near limits, integrity, spikes, blocked traffic)", "sxp admin monitor",
				printsJSON(stdout, func(ctx context.Context, h *clearing.House) (any, error) {
					alerts, err := h.Monitor(ctx, clearing.MonitorOptions{})
					return map[string]any{"alerts": alerts}, err
				})),
			plainLeaf("integrity", "show each community's reported balance against its virtual customer", "sxp admin integrity",
				printsJSON(stdout, func(ctx context.Context, h *clearing.House) (any, error) {
					rows, err := h.Integrity(ctx)
					return map[string]any{"communities": rows}, err
				})),
			plainLeaf("schedule", "run the circle's schedule now (declared and floating rates, limit policy)", "sxp admin schedule",
				printsJSON(stdout, func(ctx context.Context, h *clearing.House) (clearing.ScheduleResult, error) {
					return h.RunSchedule(ctx)
				})),
		},
	}
}

func adminCircleInit(stdout io.Writer) *command {
	return leaf("init", "create the circle (once per clearing database; idempotent)",
		"sxp admin circle init ID --unit NAME [--divisions 2] [--name NAME]",
		func(fs *flag.FlagSet) houseRun {
			unit := fs.String("unit", "", "name of the base unit, e.g. HOUR (required)")
			div := fs.Int("divisions", 2, "decimal places of the base unit (0-8)")
			name := fs.String("name", "", "display name of the circle (default: ID)")
			return withID("circle ID", func(ctx context.Context, h *clearing.House, id string) error {
				if *unit == "" {
					return usagef("--unit is required")
				}
				c, created, err := h.InitCircle(ctx, cliActor(), id, *name, *unit, *div)
				if err != nil {
					return err
				}
				verb := "exists already"
				if created {
					verb = "created"
				}
				fmt.Fprintf(stdout, "circle %s %s (unit %s, %d divisions)\n", c.ID, verb, c.Unit, c.Divisions)
				return nil
			})
		})
}

func adminCircleShow(stdout io.Writer) *command {
	return plainLeaf("show", "show the circle and its policy", "sxp admin circle show",
		printsJSON(stdout, func(ctx context.Context, h *clearing.House) (clearing.Circle, error) { return h.Circle(ctx) }))
}

func adminCirclePolicy(stdout io.Writer) *command {
	return leaf("policy", "change the circle's policy (only the flags given change)",
		"sxp admin circle policy [--rate-policy P] [--limit-policy P] [--limit-per-member N] [--limit-percent P] [--limit-floor N] [--ratio-percent P|none] [--float-band P] [--float-step P] [--window SECONDS]",
		func(fs *flag.FlagSet) houseRun {
			rate := fs.String("rate-policy", "", "declared_on_approval, declared_on_schedule, fixed or floating")
			limit := fs.String("limit-policy", "", "explicit, per_member or volume_percent")
			perMember := fs.String("limit-per-member", "", "base units per trader (per_member)")
			pct := fs.String("limit-percent", "", "percent of trailing 3-month volume (volume_percent)")
			floor := fs.String("limit-floor", "", "smallest computed limit, base units")
			ratio := fs.String("ratio-percent", "", "code 14 bound on |balance|/volume in percent, or none")
			band := fs.String("float-band", "", "floating: percent of a limit that triggers a rate move")
			step := fs.String("float-step", "", "floating: percent a rate moves per scheduled run")
			window := fs.Int("window", 0, "signature window in seconds")
			return func(ctx context.Context, h *clearing.House, args []string) error {
				c, err := h.Circle(ctx)
				if err != nil {
					return err
				}
				p := c.Policy
				set := func(dst *string, v string) {
					if v != "" {
						*dst = v
					}
				}
				set(&p.RatePolicy, *rate)
				set(&p.LimitPolicy, *limit)
				set(&p.LimitPercent, *pct)
				set(&p.FloatBandPercent, *band)
				set(&p.FloatStepPercent, *step)
				if *ratio == "none" {
					p.RatioPercent = ""
				} else {
					set(&p.RatioPercent, *ratio)
				}
				for _, a := range []struct {
					v   string
					dst *int64
				}{{*perMember, &p.LimitPerMember}, {*floor, &p.LimitFloor}} {
					if a.v == "" {
						continue
					}
					n, err := clearing.ParseAmount(a.v, c.Divisions)
					if err != nil {
						return usagef("%v", err)
					}
					*a.dst = n
				}
				if *window > 0 {
					p.SignatureWindow = *window
				}
				out, err := h.SetPolicy(ctx, cliActor(), p)
				if err != nil {
					return err
				}
				return printJSON(stdout, out)
			}
		})
}

func adminCommunityAdd(stdout io.Writer) *command {
	return leaf("add", "add a community and print its key (shown once)",
		"sxp admin community add ID --name NAME --uri URI --rate TICKS --min N --max N [--mail ADDRESS]",
		func(fs *flag.FlagSet) houseRun {
			name := fs.String("name", "", "display name (required)")
			uri := fs.String("uri", "", "the community server's base URL, its CXP uri (required)")
			rate := fs.String("rate", "", "base units per unit of its currency (required)")
			min := fs.String("min", "", "lower balance limit in base units, e.g. -1000 (required)")
			max := fs.String("max", "", "upper balance limit in base units, e.g. 1000 (required)")
			mail := fs.String("mail", "", "the community admin's mail address")
			return withID("community ID", func(ctx context.Context, h *clearing.House, id string) error {
				for flag, v := range map[string]string{"name": *name, "uri": *uri, "rate": *rate, "min": *min, "max": *max} {
					if v == "" {
						return usagef("--%s is required", flag)
					}
				}
				c, err := h.Circle(ctx)
				if err != nil {
					return err
				}
				lo, hi, err := parseLimits(*min, *max, c.Divisions)
				if err != nil {
					return err
				}
				com, key, err := h.AddCommunity(ctx, cliActor(), clearing.NewCommunity{
					ID: id, Name: *name, URI: *uri, Mail: *mail, Ticks: *rate, Min: lo, Max: hi})
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "community %s added: uri %s, rate %s, limits %s..%s %s\n", com.ID, com.URI, com.Ticks,
					clearing.FormatAmount(com.Min, c.Divisions), clearing.FormatAmount(com.Max, c.Divisions), c.Unit)
				fmt.Fprintf(stdout, "key: %s\n", key)
				return nil
			})
		})
}

func adminCommunityBlock(stdout io.Writer) *command {
	return leaf("block", "stop a community from intertrading", "sxp admin community block ID --reason TEXT",
		func(fs *flag.FlagSet) houseRun {
			reason := fs.String("reason", "", "why (required, shown to the community)")
			return withID("community ID", func(ctx context.Context, h *clearing.House, id string) error {
				if *reason == "" {
					return usagef("--reason is required")
				}
				c, err := h.Block(ctx, cliActor(), id, *reason)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "community %s blocked: %s\n", c.ID, c.BlockReason)
				return nil
			})
		})
}

func adminCommunityUnblock(stdout io.Writer) *command {
	return plainLeaf("unblock", "let a blocked community trade again", "sxp admin community unblock ID",
		withID("community ID", func(ctx context.Context, h *clearing.House, id string) error {
			c, err := h.Unblock(ctx, cliActor(), id)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "community %s is %s\n", c.ID, c.Status)
			return nil
		}))
}

func adminCommunityList(stdout io.Writer) *command {
	return leaf("list", "list communities with balances and limits", "sxp admin community list [--json]",
		func(fs *flag.FlagSet) houseRun {
			asJSON := fs.Bool("json", false, "print JSON")
			return func(ctx context.Context, h *clearing.House, args []string) error {
				c, err := h.Circle(ctx)
				if err != nil {
					return err
				}
				list, err := h.Communities(ctx)
				if err != nil {
					return err
				}
				if *asJSON {
					return printJSON(stdout, list)
				}
				f := func(v int64) string { return clearing.FormatAmount(v, c.Divisions) }
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATUS\tRATE\tBALANCE\tMIN\tMAX\tURI")
				for _, x := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Status, x.Ticks, f(x.Balance), f(x.Min), f(x.Max), x.URI)
				}
				return tw.Flush()
			}
		})
}

func adminCommunityShow(stdout io.Writer) *command {
	return plainLeaf("show", "show one community", "sxp admin community show ID",
		withID("community ID", func(ctx context.Context, h *clearing.House, id string) error {
			c, err := h.Community(ctx, id)
			if err != nil {
				return err
			}
			return printJSON(stdout, c)
		}))
}

func adminCommunityLimits(stdout io.Writer) *command {
	return leaf("limits", "override a community's limits, or hand them back to the limit policy",
		"sxp admin community limits ID (--min N --max N | --policy)",
		func(fs *flag.FlagSet) houseRun {
			min := fs.String("min", "", "lower limit in base units")
			max := fs.String("max", "", "upper limit in base units")
			policy := fs.Bool("policy", false, "drop the override: the circle's limit policy sets them again")
			return withID("community ID", func(ctx context.Context, h *clearing.House, id string) error {
				c, err := h.Circle(ctx)
				if err != nil {
					return err
				}
				var com clearing.Community
				switch {
				case *policy:
					com, err = h.ClearOverride(ctx, cliActor(), id)
				case *min == "" || *max == "":
					return usagef("give --min and --max, or --policy")
				default:
					var lo, hi int64
					if lo, hi, err = parseLimits(*min, *max, c.Divisions); err != nil {
						return err
					}
					com, err = h.SetLimits(ctx, cliActor(), id, lo, hi)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "community %s limits %s..%s (override %v)\n", com.ID,
					clearing.FormatAmount(com.Min, c.Divisions), clearing.FormatAmount(com.Max, c.Divisions), com.LimitsOverride)
				return nil
			})
		})
}

func adminRateSet(stdout io.Writer) *command {
	return plainLeaf("set", "fix a community's rate", "sxp admin rate set ID TICKS",
		func(ctx context.Context, h *clearing.House, args []string) error {
			if len(args) != 2 {
				return usagef("want ID and TICKS")
			}
			c, err := h.SetRate(ctx, cliActor(), args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "community %s rate %s\n", c.ID, c.Ticks)
			return nil
		})
}

func adminRateApprove(stdout io.Writer) *command {
	return plainLeaf("approve", "put a community's declared rate in force", "sxp admin rate approve ID",
		withID("community ID", func(ctx context.Context, h *clearing.House, id string) error {
			c, err := h.ApproveRate(ctx, cliActor(), id)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "community %s rate %s\n", c.ID, c.Ticks)
			return nil
		}))
}

func adminRateHistory(stdout io.Writer) *command {
	return plainLeaf("history", "list a community's rate changes", "sxp admin rate history ID",
		withID("community ID", func(ctx context.Context, h *clearing.House, id string) error {
			list, err := h.Rates(ctx, id)
			if err != nil {
				return err
			}
			for _, r := range list {
				fmt.Fprintf(stdout, "%s %s %s (was %s) by %s\n", r.CreatedAt.UTC().Format(time.RFC3339), r.Source, r.Ticks, r.Previous, r.Actor)
			}
			return nil
		}))
}

func adminRateFloating(stdout io.Writer) *command {
	return plainLeaf("floating", "opt a community in or out of floating rates", "sxp admin rate floating ID on|off",
		func(ctx context.Context, h *clearing.House, args []string) error {
			if len(args) != 2 || (args[1] != "on" && args[1] != "off") {
				return usagef("want ID and on or off")
			}
			c, err := h.SetFloating(ctx, cliActor(), args[0], args[1] == "on")
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "community %s floating %v\n", c.ID, c.Floating)
			return nil
		})
}

func adminKeyRotate(stdout io.Writer) *command {
	return leaf("rotate", "issue a new key; the old one verifies for the overlap", "sxp admin key rotate ID [--overlap 24h]",
		func(fs *flag.FlagSet) houseRun {
			overlap := fs.Duration("overlap", 24*time.Hour, "how long the old key keeps verifying")
			return withID("community ID", func(ctx context.Context, h *clearing.House, id string) error {
				key, err := h.RotateKey(ctx, cliActor(), id, *overlap)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "community %s has a new key; the old one verifies for %s\n", id, *overlap)
				fmt.Fprintf(stdout, "key: %s\n", key)
				return nil
			})
		})
}

func adminKeyList(stdout io.Writer) *command {
	return plainLeaf("list", "list a community's keys that verify (fingerprints only)", "sxp admin key list ID",
		withID("community ID", func(ctx context.Context, h *clearing.House, id string) error {
			list, err := h.Keys(ctx, id)
			if err != nil {
				return err
			}
			for i, k := range list {
				state := "current"
				if i > 0 && k.RetiresAt != nil {
					state = "retires " + k.RetiresAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(stdout, "%s created %s %s\n", k.Fingerprint, k.CreatedAt.UTC().Format(time.RFC3339), state)
			}
			return nil
		}))
}

func adminTokenAdd(stdout io.Writer) *command {
	return plainLeaf("add", "create an admin API token (printed once)", "sxp admin token add NAME",
		withID("token NAME", func(ctx context.Context, h *clearing.House, name string) error {
			tok, err := h.AddAdminToken(ctx, cliActor(), name)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "token: %s\n", tok)
			return nil
		}))
}

func adminTokenRevoke(stdout io.Writer) *command {
	return plainLeaf("revoke", "revoke an admin API token", "sxp admin token revoke NAME",
		withID("token NAME", func(ctx context.Context, h *clearing.House, name string) error {
			if err := h.RevokeAdminToken(ctx, cliActor(), name); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "token %s revoked\n", name)
			return nil
		}))
}

func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", s)
}

// parseRange parses the --from and --to flags of a report.
func parseRange(from, to string) (f, t time.Time, err error) {
	if f, err = parseDay(from); err != nil {
		return f, t, usagef("--from: %v", err)
	}
	if t, err = parseDay(to); err != nil {
		return f, t, usagef("--to: %v", err)
	}
	return f, t, nil
}

func adminReportSummary(stdout io.Writer) *command {
	return leaf("summary", "balances, volume per period and the community matrix",
		"sxp admin report summary [--from DAY] [--to DAY] [--period month] [--format json|csv] [--part volume|balances|matrix]",
		func(fs *flag.FlagSet) houseRun {
			from := fs.String("from", "", "start (YYYY-MM-DD or RFC 3339)")
			to := fs.String("to", "", "end, exclusive")
			period := fs.String("period", "month", "day, week, month or year")
			format := fs.String("format", "json", "json or csv")
			part := fs.String("part", "volume", "for csv: balances, volume or matrix")
			return func(ctx context.Context, h *clearing.House, args []string) error {
				f, t, err := parseRange(*from, *to)
				if err != nil {
					return err
				}
				s, err := h.Summarise(ctx, f, t, *period)
				if err != nil {
					return err
				}
				if *format == "csv" {
					return s.WriteCSV(stdout, *part)
				}
				return printJSON(stdout, s)
			}
		})
}

func adminReportStatement(stdout io.Writer) *command {
	return leaf("statement", "a community's statement", "sxp admin report statement ID [--from DAY] [--to DAY] [--format json|csv]",
		func(fs *flag.FlagSet) houseRun {
			from := fs.String("from", "", "start (YYYY-MM-DD or RFC 3339)")
			to := fs.String("to", "", "end, exclusive")
			format := fs.String("format", "json", "json or csv")
			return withID("community ID", func(ctx context.Context, h *clearing.House, id string) error {
				f, t, err := parseRange(*from, *to)
				if err != nil {
					return err
				}
				s, err := h.Statement(ctx, id, f, t)
				if err != nil {
					return err
				}
				if *format == "csv" {
					return s.WriteCSV(stdout)
				}
				return printJSON(stdout, s)
			})
		})
}

func adminRecordsExport(stdout io.Writer) *command {
	return plainLeaf("export", "write the record of intertrades as hash-chained JSON lines", "sxp admin records export [FILE]",
		func(ctx context.Context, h *clearing.House, args []string) error {
			w := io.Writer(stdout)
			if len(args) == 1 {
				f, err := os.Create(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			} else if len(args) > 1 {
				return usagef("too many arguments")
			}
			n, last, err := h.ExportRecords(ctx, w)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				fmt.Fprintf(stdout, "exported %d records, last hash %s\n", n, last)
			}
			return nil
		})
}

func adminRecordsVerify(stdout io.Writer) *command {
	return &command{name: "verify", summary: "check an export's hash chain (and, with a database, its records)",
		usage: "sxp admin records verify FILE [--database URL]",
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			db := envDatabase(fs, "database", "DATABASE_URL", "also compare with this clearing database")
			return func(ctx context.Context, args []string) error {
				name, err := oneArg(args, "FILE")
				if err != nil {
					return err
				}
				f, err := os.Open(name)
				if err != nil {
					return err
				}
				defer f.Close()
				recs, n, last, err := clearing.VerifyRecords(f)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				fmt.Fprintf(stdout, "chain ok: %d records, last hash %s\n", n, last)
				if *db == "" {
					return nil
				}
				pool, err := pgxpool.New(ctx, *db)
				if err != nil {
					return err
				}
				defer pool.Close()
				h, err := clearing.New(pool, ledger.New(pool, ledger.Options{}), clearing.Options{})
				if err != nil {
					return err
				}
				if err := h.CompareRecords(ctx, recs); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "database ok: every exported record matches\n")
				return nil
			}
		}}
}
