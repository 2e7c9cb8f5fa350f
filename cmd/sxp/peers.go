package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/federation"
)

// fedEnv is the federation of a community server, opened on its database by
// the command line ('sxp peers', 'sxp keys').
type fedEnv struct {
	pool *pgxpool.Pool
	fed  *federation.Service
	out  io.Writer
}

func fedLeaf(stdout io.Writer, name, summary, usage, help string, nargs int, extra func(fs *flag.FlagSet), run func(ctx context.Context, e *fedEnv, args []string) error) *command {
	return &command{name: name, summary: summary, usage: usage, help: help,
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			settings := communitySettings(fs)
			if extra != nil {
				extra(fs)
			}
			return func(ctx context.Context, args []string) error {
				if nargs >= 0 && len(args) != nargs {
					return usagef("want %d argument(s), got %d", nargs, len(args))
				}
				cfg := settings()
				pool, fed, err := openFederation(ctx, cfg)
				if err != nil {
					return err
				}
				defer pool.Close()
				return run(ctx, &fedEnv{pool: pool, fed: fed, out: stdout}, args)
			}
		}}
}

const fedSettingsHelp = `It works on the community's database (DATABASE_URL or --database) with the same
SXP_ settings as 'sxp community' (SXP_PUBLIC_URL is the server's base URL, which
names its keys).`

// peersCommand is 'sxp peers add URL | list | remove URL'.
func peersCommand(stdout io.Writer) *command {
	return &command{
		name:    "peers",
		summary: "federation peers: add (approve), list, remove",
		help: `Manage the community servers this one federates with (sxp-fed/1). Peering
is active once the admins of both servers have approved it: 'sxp peers add URL'
on each side.

` + fedSettingsHelp,
		subs: []*command{
			fedLeaf(stdout, "add", "approve a peer: pin its keys and ask it to peer", "sxp peers add URL",
				`Fetch URL/.well-known/sxp, pin the peer's keys, mark it approved and send it the
signed peering request. Prints "active" when the peer had approved this server
too, else "approved" (waiting for the peer's admin). Also approves a request.`, 1, nil,
				func(ctx context.Context, e *fedEnv, args []string) error {
					p, err := e.fed.Add(ctx, args[0])
					if err != nil {
						return err
					}
					fmt.Fprintf(e.out, "%s: %s (%s, %s)\n", p.BaseURL, p.State, p.CommunityID, p.Name)
					return nil
				}),
			fedLeaf(stdout, "list", "list peers with their state, keys and delivery", "sxp peers list", "", 0, nil,
				func(ctx context.Context, e *fedEnv, args []string) error {
					peers, err := e.fed.Peers(ctx)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "URL\tID\tNAME\tSTATE\tKEYS\tLAST DELIVERY\tBACKLOG\tFAILURES\tPAUSED UNTIL")
					for _, p := range peers {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", p.BaseURL, p.CommunityID, p.Name, p.State,
							len(p.Keys), when(p.LastDeliveryAt), p.Backlog, p.Failures, when(p.PausedUntil))
					}
					return tw.Flush()
				}),
			fedLeaf(stdout, "refuse", "refuse a peer's request", "sxp peers refuse URL", "", 1, nil,
				func(ctx context.Context, e *fedEnv, args []string) error {
					p, err := e.fed.Refuse(ctx, args[0])
					if err != nil {
						return err
					}
					fmt.Fprintf(e.out, "%s: %s\n", p.BaseURL, p.State)
					return nil
				}),
			fedLeaf(stdout, "remove", "end peering: tell the peer and forget it", "sxp peers remove URL",
				`Send the peer a signed DELETE /federation/v1/peers, then forget it, its keys
and its announcements here (also when it cannot be told).`, 1, nil,
				func(ctx context.Context, e *fedEnv, args []string) error {
					told, err := e.fed.Remove(ctx, args[0])
					if err != nil {
						return err
					}
					fmt.Fprintf(e.out, "%s: removed\n", args[0])
					if told != nil {
						fmt.Fprintf(e.out, "warning: the peer was not told: %v\n", told)
					}
					return nil
				}),
		},
	}
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// keysCommand is 'sxp keys list | rotate [--overlap DURATION]'.
func keysCommand(stdout io.Writer) *command {
	var overlap time.Duration
	return &command{
		name:    "keys",
		summary: "the server's federation keys: list, rotate",
		help: `The Ed25519 keys this community server signs federation requests with, listed
in its /.well-known/sxp. The first is made when the server first starts.

` + fedSettingsHelp,
		subs: []*command{
			fedLeaf(stdout, "list", "list the server's keys", "sxp keys list", "", 0, nil,
				func(ctx context.Context, e *fedEnv, args []string) error {
					keys, err := e.fed.Keys(ctx)
					if err != nil {
						return err
					}
					for _, k := range keys {
						state := "current"
						if k.RetiresAt != nil {
							state = "listed until " + k.RetiresAt.UTC().Format(time.RFC3339)
						}
						fmt.Fprintf(e.out, "%s  %s\n", k.KeyID, state)
					}
					return nil
				}),
			fedLeaf(stdout, "rotate", "add a new key; the old one stays listed for the overlap", "sxp keys rotate [--overlap DURATION]",
				`Make a new signing key. The keys current until now stay listed in
/.well-known/sxp and verify for --overlap (default 168h, a week: long enough for
peers that were down a few days), then are dropped. Peers pick up the new key
when they first see a signature made with it.`, 0,
				func(fs *flag.FlagSet) {
					fs.DurationVar(&overlap, "overlap", federation.DefaultKeyOverlap, "how long the old key stays listed and verifying")
				},
				func(ctx context.Context, e *fedEnv, args []string) error {
					if overlap <= 0 {
						return usagef("--overlap must be positive, e.g. 168h")
					}
					k, err := e.fed.Rotate(ctx, overlap)
					if err != nil {
						return err
					}
					fmt.Fprintf(e.out, "new key %s; the old key stays listed until %s\n", k.KeyID, k.CreatedAt.Add(overlap).UTC().Format(time.RFC3339))
					return nil
				}),
		},
	}
}

// openFederation opens a community's database and its federation service
// (making the server key on first use), for the commands that act on it
// ('sxp peers', 'sxp keys', 'sxp deals round'). Settings that are missing or
// malformed are a usage error; the caller closes the pool.
func openFederation(ctx context.Context, cfg server.Config) (*pgxpool.Pool, *federation.Service, error) {
	probe := cfg
	probe.Listen = "x"
	if err := probe.Validate(); err != nil {
		return nil, nil, usagef("%v", err)
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("setting DATABASE_URL (--database): %w", err)
	}
	fed, err := server.NewFederation(cfg, pool, "", nil, nil)
	if err == nil {
		err = fed.EnsureKey(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return pool, fed, nil
}
