package wantlist

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sxp-network/sxp/server/deals/finder"
)

// Report is what WriteReport needs besides the file and the loops.
type Report struct {
	// Elapsed is printed as "Elapsed time = …ms" with SHOW-ELAPSED-TIME.
	Elapsed time.Duration
	// Caps are printed in the stats when set.
	MaxLoop, MaxCommunities int
}

// show is how TradeMaximizer names an item in its report.
func (f *File) show(i int) string {
	it := f.Items[i]
	switch {
	case it.User == "" || it.Dummy:
		return it.Name
	case f.Options.SortByItem:
		return it.Name + " " + it.User
	default:
		return it.User + " " + it.Name
	}
}

// WriteReport writes TradeMaximizer's report of r: the options, the errors
// (warnings), TRADE LOOPS, ITEM SUMMARY and the stats.
func WriteReport(w io.Writer, f *File, r finder.Result, rep Report) error {
	o := f.Options
	b := bufio.NewWriter(w)
	if len(o.Echo) > 0 {
		fmt.Fprintf(b, "Options: %s\n", strings.Join(o.Echo, " "))
	}
	fmt.Fprintln(b)
	if o.ShowMissing && len(f.Missing) > 0 {
		missing := slices.Clone(f.Missing)
		slices.Sort(missing)
		for _, name := range missing {
			fmt.Fprintf(b, "**** Missing want list for official name %s\n", name)
		}
		fmt.Fprintln(b)
	}
	if !o.HideErrors && len(f.Warnings) > 0 {
		texts := make([]string, len(f.Warnings))
		for i, wn := range f.Warnings {
			texts[i] = wn.Text
		}
		slices.Sort(texts)
		fmt.Fprintln(b, "ERRORS:")
		for _, t := range texts {
			fmt.Fprintln(b, t)
		}
		fmt.Fprintln(b)
	}

	width := 1
	for i, it := range f.Items {
		if !it.Dummy {
			width = max(width, utf8.RuneCountInString(f.show(i)))
		}
	}
	pad := func(s string) string {
		if n := utf8.RuneCountInString(s); n < width {
			return s + strings.Repeat(" ", width-n)
		}
		return s
	}
	sendsTo := make([]int, len(f.Items))
	for i := range sendsTo {
		sendsTo[i] = -1
	}
	for i, j := range r.Receives {
		if j >= 0 {
			sendsTo[j] = i
		}
	}
	var summary []string
	for i, it := range f.Items {
		if it.Dummy {
			continue
		}
		if j := r.Receives[i]; j >= 0 {
			summary = append(summary, pad(f.show(i))+" receives "+pad(f.show(j))+" and sends to "+f.show(sendsTo[i]))
		} else if !o.HideNonTrades {
			summary = append(summary, pad(f.show(i))+"             does not trade")
		}
	}
	if !o.HideLoops {
		fmt.Fprintf(b, "TRADE LOOPS (%d total trades):\n\n", r.Trades)
		for _, loop := range r.Loops {
			for t, i := range loop {
				fmt.Fprintf(b, "%s receives %s\n", pad(f.show(i)), f.show(loop[(t+1)%len(loop)]))
			}
			fmt.Fprintln(b)
		}
	}
	if !o.HideSummary {
		slices.Sort(summary)
		fmt.Fprintf(b, "ITEM SUMMARY (%d total trades):\n\n", r.Trades)
		for _, s := range summary {
			fmt.Fprintln(b, s)
		}
		fmt.Fprintln(b)
	}
	real := 0
	for _, it := range f.Items {
		if !it.Dummy {
			real++
		}
	}
	fmt.Fprintf(b, "Num trades  = %d of %d items", r.Trades, real)
	if real > 0 {
		fmt.Fprintf(b, " (%.1f%%)", 100*float64(r.Trades)/float64(real))
	}
	fmt.Fprintln(b)
	if !o.HideStats {
		fmt.Fprintf(b, "Total cost  = %d", r.Cost)
		if r.Trades > 0 {
			fmt.Fprintf(b, " (avg %.2f)", float64(r.Cost)/float64(r.Trades))
		}
		fmt.Fprintln(b)
		sizes := make([]int, len(r.Loops))
		sos := 0
		for k, l := range r.Loops {
			sizes[k] = len(l)
			sos += len(l) * len(l)
		}
		slices.Sort(sizes)
		slices.Reverse(sizes)
		fmt.Fprintf(b, "Num groups  = %d\n", len(r.Loops))
		fmt.Fprint(b, "Group sizes =")
		for _, z := range sizes {
			fmt.Fprintf(b, " %d", z)
		}
		fmt.Fprintln(b)
		fmt.Fprintf(b, "Sum squares = %d\n", sos)
		fmt.Fprintf(b, "Num users   = %d of %d users trading\n", r.Users, f.users())
		fmt.Fprintf(b, "Metric      = %s %s\n", o.Metric, r.MetricText)
		if rep.MaxLoop > 0 || rep.MaxCommunities > 0 {
			fmt.Fprintf(b, "Caps        = max loop %d, max communities %d (0: no cap)\n", rep.MaxLoop, rep.MaxCommunities)
		}
	}
	if o.ShowElapsedTime {
		fmt.Fprintf(b, "Elapsed time = %dms\n", rep.Elapsed.Milliseconds())
	}
	return b.Flush()
}

// users counts the users with a real item (items without a user count one
// each, as in the Users-Trading metric).
func (f *File) users() int {
	seen := map[int]bool{}
	n := 0
	for i, it := range f.Graph.Items {
		if it.Dummy {
			continue
		}
		if it.User < 0 {
			n++
		} else if !seen[it.User] {
			seen[it.User] = true
			n++
		}
		_ = i
	}
	return n
}
