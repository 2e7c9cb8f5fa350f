package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sxp-network/sxp/server/deals/finder"
	"github.com/sxp-network/sxp/server/deals/wantlist"
)

// dealsCommand runs the deal finder on a TradeMaximizer want-list file.
func dealsCommand(stdin io.Reader, stdout, stderr io.Writer) *command {
	return &command{
		name:    "deals",
		summary: "find multi-party trade loops in want lists",
		subs: []*command{dealsRoundCommand(stdout, stderr), dealsExportCommand(stdout), {
			name:    "solve",
			summary: "print the most trades TradeMaximizer-style for a want-list file",
			usage:   "sxp deals solve [--max-loop N] [--max-communities N] FILE|-",
			help: `Read a want-list file in TradeMaximizer's format (FILE, or - for standard
input) and print TradeMaximizer's report: the most items that can change
hands, found exactly; among those, the best METRIC (by default the most
users trading); then the best priorities. Warnings (an unknown want, a want
repeated on a list) go to standard error as FILE:LINE: text, and to the
report's ERRORS: block unless HIDE-ERRORS, and the solve goes on; bad input is FILE:LINE: message on standard error, exit status 2,
nothing on standard output. Runs longer than a second report their progress
on standard error.

--max-loop caps the number of items in a loop; --max-communities caps the
distinct communities in a loop, a user's community being what follows the
last '@' of the username (alice@leaf is in leaf); a user without '@' is a
community of their own, and so is an item without a user.`,
			flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
				maxLoop := fs.Int("max-loop", 0, "maximum number of items in a loop (0: no cap)")
				maxComm := fs.Int("max-communities", 0, "maximum number of distinct communities in a loop (0: no cap)")
				return func(ctx context.Context, args []string) error {
					if len(args) != 1 {
						return usagef("want one FILE (or -), got %d arguments", len(args))
					}
					if *maxLoop < 0 || *maxComm < 0 {
						return usagef("caps must not be negative")
					}
					return solveDeals(args[0], stdin, stdout, stderr, finder.Options{MaxLoop: *maxLoop, MaxCommunities: *maxComm})
				}
			},
		}},
	}
}

// exitError is an error already printed as it should be, with its exit code.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func solveDeals(name string, stdin io.Reader, stdout, stderr io.Writer, opt finder.Options) error {
	in := stdin
	if name != "-" {
		fh, err := os.Open(name)
		if err != nil {
			return err
		}
		defer fh.Close()
		in = fh
	}
	start := time.Now()
	f, err := wantlist.Parse(in)
	if err != nil {
		var pe *wantlist.Error
		if errors.As(err, &pe) {
			return exitError{2, fmt.Sprintf("%s:%d: %s", name, pe.Line, pe.Msg)}
		}
		return err
	}
	for _, w := range f.Warnings {
		fmt.Fprintf(stderr, "%s:%d: %s\n", name, w.Line, w.Text)
	}
	o := f.Options
	opt.Metric, opt.Iterations, opt.Seed, opt.NonTradeCost = o.Metric, o.Iterations, o.Seed, o.NonTradeCost
	last := time.Time{}
	opt.Progress = func(phase string, done, total int) {
		now := time.Now()
		if now.Sub(start) < time.Second || now.Sub(last) < time.Second {
			return
		}
		last = now
		fmt.Fprintf(stderr, "deals: %s %d/%d (%d items, %.1fs)\n", phase, done, total, len(f.Items), now.Sub(start).Seconds())
	}
	solveStart := time.Now()
	r, err := finder.Solve(&f.Graph, opt)
	if err != nil {
		return err
	}
	return wantlist.WriteReport(stdout, f, r, wantlist.Report{Elapsed: time.Since(solveStart),
		MaxLoop: opt.MaxLoop, MaxCommunities: opt.MaxCommunities})
}
