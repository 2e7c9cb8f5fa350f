package deals_test

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server/deals"
	"github.com/sxp-network/sxp/server/deals/finder"
	"github.com/sxp-network/sxp/server/deals/wantlist"
)

// TestRoundMatchesSolve is TestRoundScale at deploy/test's size, always
// run: 200 generated want lists (seeded) over three servers. The round
// proposes exactly the loops that 'sxp deals solve' finds in 'sxp deals
// export' (the same parse, solve and report), and their exact counts.
func TestRoundMatchesSolve(t *testing.T) {
	ctx := context.Background()
	m := newMarket(t)
	if n := generate(t, m, 20261129, 10, 66, 67); n != 200 {
		t.Fatalf("generated %d want lists, want 200", n)
	}
	svc := deals.New(m.pool, deals.Config{BaseURL: leaf, CommunityID: "leaf", Currency: "LEAF", Divisions: 2, TTP: testTTP,
		Now: func() time.Time { return now }})
	var export bytes.Buffer
	if err := svc.Export(ctx, &export); err != nil {
		t.Fatal(err)
	}
	solved, report := solveAsCommand(t, export.Bytes(), 6)

	var phases []string
	res, err := svc.Round(ctx, deals.Options{MaxLoop: 6, Progress: func(st deals.RoundStatus) { phases = append(phases, st.Phase) }})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, loop := range res.Loops {
		got = append(got, strings.Join(loop, " "))
	}
	slices.Sort(got)
	if !slices.Equal(got, solved) {
		t.Fatalf("round's loops differ from the solve's:\ngot  %q\nwant %q", got, solved)
	}
	const wantLoops, wantTrades = 38, 146
	if res.WantLists != 200 || len(res.Loops) != wantLoops || res.Trades != wantTrades || len(res.Proposals) != wantLoops ||
		!strings.Contains(report, "TRADE LOOPS (146 total trades):") {
		t.Errorf("got %d want lists, %d loops, %d trades, %d proposals; want 200, %d, %d, %d and the report's line\n%s",
			res.WantLists, len(res.Loops), res.Trades, len(res.Proposals), wantLoops, wantTrades, wantLoops, report)
	}
	// A solve longer than a second tells where it is once a second: repeats of a phase are not counted.
	if want := []string{"gather", "solve", "propose", "done"}; !slices.Equal(slices.Compact(phases), want) {
		t.Errorf("progress: got phases %q, want %q", phases, want)
	}
	rounds, err := svc.Rounds(ctx, 5)
	if err != nil || len(rounds) != 1 {
		t.Fatalf("rounds: got %v, %v; want one", rounds, err)
	}
	if r := rounds[0]; r.Phase != "done" || r.WantLists != 200 || r.Loops != wantLoops || r.Proposed != wantLoops ||
		r.Trades != wantTrades || r.FinishedAt == nil || r.By != "command" || r.ID != res.Round {
		t.Errorf("recorded round: got %+v", r)
	}
	// Every offer of a proposed loop is held: the next round reads fewer
	// want lists and never proposes one of them again.
	var held int
	if err := m.pool.QueryRow(ctx, `SELECT count(DISTINCT offer) FROM deal_proposal_offers`).Scan(&held); err != nil || held != wantTrades {
		t.Errorf("held offers: got %d, %v; want %d", held, err, wantTrades)
	}
}

// solveAsCommand parses export and solves it as 'sxp deals solve --max-loop
// N' does; it returns each loop as its offers' event ids (sorted) and the report.
func solveAsCommand(t *testing.T, export []byte, maxLoop int) ([]string, string) {
	t.Helper()
	f, err := wantlist.Parse(bytes.NewReader(export))
	if err != nil {
		t.Fatalf("export does not parse: %v", err)
	}
	o := f.Options
	r, err := finder.Solve(&f.Graph, finder.Options{Metric: o.Metric, Iterations: o.Iterations, Seed: o.Seed,
		NonTradeCost: o.NonTradeCost, MaxLoop: maxLoop})
	if err != nil {
		t.Fatal(err)
	}
	var report bytes.Buffer
	if err := wantlist.WriteReport(&report, f, r, wantlist.Report{MaxLoop: maxLoop}); err != nil {
		t.Fatal(err)
	}
	eventOf := map[string]string{}
	for _, n := range regexp.MustCompile(`# (\S+) = (\S+)`).FindAllStringSubmatch(string(export), -1) {
		eventOf[n[1]] = n[2]
	}
	var loops []string
	for _, loop := range r.Loops {
		var ids []string
		for _, i := range loop {
			ids = append(ids, eventOf[f.Items[i].Name])
		}
		loops = append(loops, strings.Join(ids, " "))
	}
	slices.Sort(loops)
	return loops, report.String()
}
