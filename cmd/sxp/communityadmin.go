package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/memberkeys"
	"github.com/sxp-network/sxp/server/members"
	"github.com/sxp-network/sxp/server/payments"
)

// membersCommand is the community admins' command line: it works directly
// on the community's database (DATABASE_URL), e.g. to create the first admin.
func membersCommand(stdout io.Writer) *command {
	leaf := func(name, summary, usage string, nargs int, run func(ctx context.Context, e *membersEnv, args []string) error, extra func(fs *flag.FlagSet)) *command {
		return &command{name: name, summary: summary, usage: usage,
			flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
				settings := communitySettings(fs)
				if extra != nil {
					extra(fs)
				}
				return func(ctx context.Context, args []string) error {
					if nargs >= 0 && len(args) != nargs {
						return usagef("want %d argument(s), got %d", nargs, len(args))
					}
					e, err := openMembers(ctx, settings())
					if err != nil {
						return err
					}
					defer e.pool.Close()
					e.out = stdout
					return run(ctx, e, args)
				}
			}}
	}
	var (
		passwordStdin, admin bool
		displayName          string
		minS, maxS           string
		status               string
	)
	return &command{
		name:    "members",
		summary: "manage a community's members: add, approve, block, limits, roles",
		help: `Manage the members of a community server, directly on its database
(DATABASE_URL or --database; the same SXP_ settings as 'sxp community', of which
the currency and default limits matter here). Use it to create the first admin:
  echo 'a long password' | sxp members add alice --password-stdin --admin`,
		subs: []*command{
			leaf("add", "add an active member (--admin for an admin)", "sxp members add USERNAME --password-stdin [--admin] [--name NAME]", 1,
				func(ctx context.Context, e *membersEnv, args []string) error {
					if !passwordStdin {
						return usagef("give the password on standard input with --password-stdin")
					}
					pw, err := readPassword(os.Stdin)
					if err != nil {
						return err
					}
					role := members.RoleMember
					if admin {
						role = members.RoleAdmin
					}
					m, err := e.members.Add(ctx, members.Registration{Username: args[0], Password: pw, DisplayName: displayName}, role)
					if err != nil {
						return err
					}
					fmt.Fprintf(e.out, "added %s (%s, %s)\n", m.Username, m.Role, m.Status)
					return nil
				}, func(fs *flag.FlagSet) {
					fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
					fs.BoolVar(&admin, "admin", false, "make the member an admin")
					fs.StringVar(&displayName, "name", "", "display name (default: the username)")
				}),
			leaf("list", "list members with their balances and limits", "sxp members list [--status pending|active|blocked]", 0,
				func(ctx context.Context, e *membersEnv, args []string) error {
					ms, err := e.members.List(ctx, members.Status(status))
					if err != nil {
						return err
					}
					accounts, err := e.payments.Accounts(ctx)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "USERNAME\tNAME\tROLE\tSTATUS\tBALANCE\tMIN\tMAX")
					for _, m := range ms {
						a := accounts[m.Account]
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Username, m.DisplayName, m.Role, m.Status,
							e.cur.Format(a.Balance), e.cur.Format(a.Min), e.cur.Format(a.Max))
					}
					return tw.Flush()
				}, func(fs *flag.FlagSet) { fs.StringVar(&status, "status", "", "only members with this status") }),
			leaf("approve", "approve a pending member", "sxp members approve USERNAME", 1, e2("approve", func(ctx context.Context, e *membersEnv, u string) (members.Member, error) {
				return e.members.Approve(ctx, u)
			}), nil),
			leaf("block", "block a member (ends their sessions, freezes their account)", "sxp members block USERNAME", 1, e2("block", func(ctx context.Context, e *membersEnv, u string) (members.Member, error) {
				return e.members.Block(ctx, u)
			}), nil),
			leaf("unblock", "unblock a member", "sxp members unblock USERNAME", 1, e2("unblock", func(ctx context.Context, e *membersEnv, u string) (members.Member, error) {
				return e.members.Unblock(ctx, u)
			}), nil),
			leaf("unlock", "lift a log-in lock: forget the member's failed log-ins", "sxp members unlock USERNAME", 1, e2("unlock", func(ctx context.Context, e *membersEnv, u string) (members.Member, error) {
				return e.members.Unlock(ctx, u)
			}), nil),
			leaf("make-admin", "make a member an admin", "sxp members make-admin USERNAME", 1, e2("role", func(ctx context.Context, e *membersEnv, u string) (members.Member, error) {
				return e.members.SetRole(ctx, u, members.RoleAdmin)
			}), nil),
			leaf("remove-admin", "make an admin a plain member", "sxp members remove-admin USERNAME", 1, e2("role", func(ctx context.Context, e *membersEnv, u string) (members.Member, error) {
				return e.members.SetRole(ctx, u, members.RoleMember)
			}), nil),
			leaf("limits", "set a member's balance limits", "sxp members limits USERNAME --min -100 --max 500", 1,
				func(ctx context.Context, e *membersEnv, args []string) error {
					if minS == "" || maxS == "" {
						return usagef("give both --min and --max")
					}
					min, err := e.cur.Parse(minS)
					if err != nil {
						return usagef("--min %q: %v", minS, err)
					}
					max, err := e.cur.Parse(maxS)
					if err != nil {
						return usagef("--max %q: %v", maxS, err)
					}
					a, err := e.payments.SetLimits(ctx, args[0], min, max)
					if err != nil {
						return err
					}
					if err := e.members.Audit(ctx, cliActor(), args[0], "limits", "limits "+e.cur.Format(a.Min)+" to "+e.cur.Format(a.Max)+" "+e.cur.Code); err != nil {
						return err
					}
					fmt.Fprintf(e.out, "%s: limits %s to %s %s (balance %s)\n", args[0], e.cur.Format(a.Min), e.cur.Format(a.Max), e.cur.Code, e.cur.Format(a.Balance))
					return nil
				}, func(fs *flag.FlagSet) {
					fs.StringVar(&minS, "min", "", "lower limit (decimal, <= 0)")
					fs.StringVar(&maxS, "max", "", "upper limit (decimal, >= 0)")
				}),
			leaf("password", "set a member's password (ends their sessions)", "sxp members password USERNAME --password-stdin", 1,
				func(ctx context.Context, e *membersEnv, args []string) error {
					if !passwordStdin {
						return usagef("give the password on standard input with --password-stdin")
					}
					pw, err := readPassword(os.Stdin)
					if err != nil {
						return err
					}
					if err := e.members.SetPassword(ctx, args[0], pw); err != nil {
						return err
					}
					if err := e.members.Audit(ctx, cliActor(), args[0], "password", "password set on the command line"); err != nil {
						return err
					}
					fmt.Fprintf(e.out, "password of %s changed\n", args[0])
					return nil
				}, func(fs *flag.FlagSet) {
					fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
				}),
		},
	}
}

type membersEnv struct {
	pool     *pgxpool.Pool
	members  *members.Service
	payments *payments.Service
	cur      payments.Currency
	out      io.Writer
}

// openMembers checks the settings the members commands need and opens the database.
func openMembers(ctx context.Context, cfg server.Config) (*membersEnv, error) {
	if cfg.DatabaseURL == "" {
		return nil, usagef("setting DATABASE_URL (--database): missing")
	}
	probe := cfg
	probe.Listen, probe.CommunityID, probe.CommunityName, probe.PublicURL, probe.Registration = "x", "x", "x", "http://x", "open"
	probe.CircleURL, probe.CircleID, probe.CircleKey, probe.Rate = "", "", "", ""
	probe.ArbiterURL, probe.ArbiterKey = "", ""
	if err := probe.Validate(); err != nil {
		return nil, usagef("%v", err)
	}
	min, max, _ := cfg.Limits()
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("setting DATABASE_URL (--database): %w", err)
	}
	led := ledger.New(pool, ledger.Options{})
	keys, err := memberkeys.New(pool, cfg.FederationSecret)
	if err != nil {
		pool.Close()
		return nil, err
	}
	newcomer, _ := cfg.Newcomer()
	mem := members.New(pool, led, members.Options{Currency: cfg.Currency, DefaultMin: min, DefaultMax: max, Created: keys.Make, Newcomer: newcomer})
	if err := mem.CheckCurrency(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("setting SXP_CURRENCY (--currency): %w", err)
	}
	return &membersEnv{pool: pool, members: mem, payments: payments.New(pool, led, mem, cfg.Money(), nil), cur: cfg.Money()}, nil
}

// e2 adapts a one-member action that prints the member's new state.
// The action is recorded in the member's audit log, by cli:<OS user>.
func e2(action string, do func(ctx context.Context, e *membersEnv, username string) (members.Member, error)) func(ctx context.Context, e *membersEnv, args []string) error {
	return func(ctx context.Context, e *membersEnv, args []string) error {
		m, err := do(ctx, e, args[0])
		if err != nil {
			return err
		}
		detail := ""
		if action == "role" {
			detail = "role " + string(m.Role)
		}
		if err := e.members.Audit(ctx, cliActor(), m.Username, action, detail); err != nil {
			return err
		}
		fmt.Fprintf(e.out, "%s: %s, %s\n", m.Username, m.Role, m.Status)
		return nil
	}
}

func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", usagef("the password on standard input is empty")
	}
	return pw, nil
}
