package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/deals"
)

// marketLeaf is a 'sxp deals' subcommand on a community's database.
func marketLeaf(name, summary, usage, help string, extra func(fs *flag.FlagSet) func(context.Context, *deals.Service) error) *command {
	return &command{name: name, summary: summary, usage: usage, help: help + "\n\n" + fedSettingsHelp,
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			settings := communitySettings(fs)
			run := extra(fs)
			return func(ctx context.Context, args []string) error {
				if len(args) != 0 {
					return usagef("want no arguments, got %d", len(args))
				}
				cfg := settings()
				pool, fed, err := openFederation(ctx, cfg)
				if err != nil {
					return err
				}
				defer pool.Close()
				return run(ctx, server.NewDealsSending(cfg, pool, fed, slog.New(slog.NewTextHandler(os.Stderr, nil))))
			}
		}}
}

// dealsRoundCommand is 'sxp deals round'.
func dealsRoundCommand(stdout, stderr io.Writer) *command {
	return marketLeaf("round", "run a round over every want list this server holds", "sxp deals round [--max-loop N] [--max-communities N]",
		`Run the deal finder over every want list the community server holds (its
members' and its peers'), leaving out offers held by a live proposal; each
loop found becomes a proposal (an sxp-contract/1 contract) stored here and
sent to the home server of every other party (signed POST
/federation/v1/contracts; a send that fails is kept and retried by the
running server, with backoff, until it is delivered or the deadline passes).
One round runs at a time. Its progress goes to standard error as it runs
(phase gather, solve, propose, with counts) and to the admin page (Admin →
Deals), which lists the last rounds. Prints the number of want lists read,
each loop (who gives what to whom), and the totals; "no loops found" when
there are none. Money offers a member cannot pay now (their balance above
their lower limit, less money held by live proposals) are left out.`,
		func(fs *flag.FlagSet) func(context.Context, *deals.Service) error {
			maxLoop := fs.Int("max-loop", deals.DefaultMaxLoop, "maximum number of items in a loop")
			maxComm := fs.Int("max-communities", 0, "maximum number of distinct communities in a loop (0: no cap)")
			return func(ctx context.Context, d *deals.Service) error {
				if *maxLoop < 2 || *maxComm < 0 {
					return usagef("--max-loop must be at least 2 and --max-communities not negative")
				}
				res, err := d.Round(ctx, deals.Options{MaxLoop: *maxLoop, MaxCommunities: *maxComm, By: "command",
					Progress: func(st deals.RoundStatus) { fmt.Fprintln(stderr, roundProgress(st)) }})
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "want lists: %d\n", res.WantLists)
				for _, p := range res.Proposals {
					var legs []string
					for _, l := range p.Contract.Legs {
						what := l.Title
						if l.Money != nil {
							what += " (" + l.Money.Value + " " + l.Money.Currency + ")"
						}
						legs = append(legs, fmt.Sprintf("%s gives %s to %s", p.Contract.Parties[l.From].Member, what, p.Contract.Parties[l.To].Member))
					}
					fmt.Fprintf(stdout, "proposal %s: %s\n", p.H, strings.Join(legs, "; "))
				}
				if len(res.Proposals) == 0 {
					fmt.Fprintln(stdout, "no loops found")
				}
				if n := res.UnfundedOffers + res.UnfundedLoops; n > 0 {
					fmt.Fprintf(stdout, "left out for members' limits: %d money offers, %d loops\n", res.UnfundedOffers, res.UnfundedLoops)
				}
				fmt.Fprintf(stdout, "loops: %d, trades: %d, in %.3fs\n", len(res.Loops), res.Trades, res.Elapsed.Seconds())
				return nil
			}
		})
}

// dealsExportCommand is 'sxp deals export'.
func dealsExportCommand(stdout io.Writer) *command {
	return marketLeaf("export", "write the want lists a round would read, in TradeMaximizer's format", "sxp deals export",
		`Write to standard output every want list a round would read (offers held by a
live proposal left out), in TradeMaximizer's format: 'sxp deals solve' on it
finds the loops 'sxp deals round' would propose. Items are named
<community>-<id>; a comment line maps each to its offer's event id.`,
		func(fs *flag.FlagSet) func(context.Context, *deals.Service) error {
			return func(ctx context.Context, d *deals.Service) error { return d.Export(ctx, stdout) }
		})
}

// roundProgress is a line about a round's progress: "round 7: gather",
// "round 7: solve: 2000 want lists", …, "round 7: done: 230 loops, 1156
// trades" or "found nothing".
func roundProgress(st deals.RoundStatus) string {
	line := fmt.Sprintf("round %d: %s", st.ID, st.Phase)
	switch st.Phase {
	case deals.PhaseSolve:
		line += fmt.Sprintf(": %d want lists", st.WantLists)
		if st.Step != "" {
			line += " (" + st.Step + ")"
		}
	case deals.PhasePropose:
		line += fmt.Sprintf(": %d of %d loops proposed", st.Proposed, st.Loops)
	case deals.PhaseDone:
		if st.Proposed == 0 && st.Loops > 0 {
			line += fmt.Sprintf(": found %d loops, proposed none (members' limits)", st.Loops)
		} else if st.Proposed == 0 {
			line += ": found nothing"
		} else {
			line += fmt.Sprintf(": %d loops, %d trades", st.Proposed, st.Trades)
		}
	case deals.PhaseFailed:
		line += ": " + st.Error
	}
	return line
}
