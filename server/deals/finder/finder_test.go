package finder

import (
	"math/bits"
	"math/rand/v2"
	"testing"
)

// smallGraph makes a random want graph of at most 12 items, some of them
// dummies, following the want-list rules: an item wants other users' real
// items and its own user's dummies, never its own user's real items.
func smallGraph(rng *rand.Rand) *Graph {
	n := 1 + rng.IntN(12)
	users := 1 + rng.IntN(5)
	g := &Graph{Users: users, Items: make([]Item, n)}
	for i := range g.Items {
		u := rng.IntN(users)
		g.Items[i] = Item{User: u, Community: u % 3, Dummy: rng.IntN(6) == 0}
	}
	density := rng.Float64()
	for i := range g.Items {
		for j := range g.Items {
			a, b := g.Items[i], g.Items[j]
			ok := i != j && (b.Dummy && a.User == b.User || !b.Dummy && a.User != b.User)
			if ok && rng.Float64() < density {
				g.Items[i].Wants = append(g.Items[i].Wants, Want{Item: j, Cost: 1 + rng.Int64N(4)})
			}
		}
	}
	return g
}

// bruteForce is the most real items trading and the least priority cost
// among those: over every permutation (each item receives one item, itself
// when it does not trade, along its wants), by dynamic programming over the
// set of items already received.
func bruteForce(g *Graph) (int, int64) {
	n := len(g.Items)
	type value struct {
		trades int
		cost   int64
	}
	better := func(a, b value) bool { return a.trades > b.trades || a.trades == b.trades && a.cost < b.cost }
	dp := make([]value, 1<<n)
	for i := range dp {
		dp[i].trades = -1
	}
	dp[0] = value{}
	for mask := 0; mask < 1<<n; mask++ {
		if dp[mask].trades < 0 {
			continue
		}
		i := bits.OnesCount(uint(mask)) // row i receives next
		if i == n {
			continue
		}
		try := func(j int, v value) {
			if mask&(1<<j) == 0 && (dp[mask|1<<j].trades < 0 || better(v, dp[mask|1<<j])) {
				dp[mask|1<<j] = v
			}
		}
		try(i, dp[mask])
		for _, w := range g.Items[i].Wants {
			v := dp[mask]
			if !g.Items[i].Dummy {
				v.trades++
				v.cost += w.Cost
			}
			try(w.Item, v)
		}
	}
	return dp[1<<n-1].trades, dp[1<<n-1].cost
}

// checkLoops verifies every loop against the graph: each real item gives
// and receives at most once, and what it receives is on its want list,
// directly or through a chain of its user's dummies.
func checkLoops(t *testing.T, g *Graph, r Result, opt Options) {
	t.Helper()
	gives := map[int]bool{}
	gets := map[int]bool{}
	total := 0
	for _, loop := range r.Loops {
		if len(loop) < 2 {
			t.Fatalf("loop %v: fewer than 2 items", loop)
		}
		communities := map[int]bool{}
		for k, i := range loop {
			j := loop[(k+1)%len(loop)]
			if g.Items[i].Dummy || g.Items[j].Dummy {
				t.Fatalf("loop %v shows a dummy", loop)
			}
			if gets[i] || gives[j] {
				t.Fatalf("loop %v: item traded twice", loop)
			}
			gets[i], gives[j] = true, true
			if !reaches(g, i, j) {
				t.Fatalf("loop %v: item %d receives %d, not on its want list", loop, i, j)
			}
			if r.Receives[i] != j {
				t.Fatalf("Receives[%d] = %d, want %d", i, r.Receives[i], j)
			}
			communities[g.Items[i].Community] = true
		}
		if opt.MaxLoop > 0 && len(loop) > opt.MaxLoop {
			t.Fatalf("loop %v longer than %d", loop, opt.MaxLoop)
		}
		if opt.MaxCommunities > 0 && len(communities) > opt.MaxCommunities {
			t.Fatalf("loop %v has %d communities, cap %d", loop, len(communities), opt.MaxCommunities)
		}
		total += len(loop)
	}
	if total != r.Trades {
		t.Fatalf("Trades = %d, loops hold %d", r.Trades, total)
	}
}

// reaches reports whether item i may receive real item j: j is on i's
// list, or on the list of one of the user's dummies i reaches.
func reaches(g *Graph, i, j int) bool {
	seen := map[int]bool{i: true}
	queue := []int{i}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, w := range g.Items[k].Wants {
			if w.Item == j {
				return true
			}
			d := g.Items[w.Item]
			if d.Dummy && d.User == g.Items[i].User && !seen[w.Item] {
				seen[w.Item] = true
				queue = append(queue, w.Item)
			}
		}
	}
	return false
}

func TestSolveMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	graphs := 3000
	if testing.Short() {
		graphs = 300
	}
	for k := range graphs {
		g := smallGraph(rng)
		want, wantCost := bruteForce(g)
		if p := plain(t, g); p.Trades != want || p.Cost != wantCost {
			t.Fatalf("graph %d: plain solve %d trades at cost %d, brute force %d at %d\n%+v", k, p.Trades, p.Cost, want, wantCost, g)
		}
		for _, metric := range []Metric{UsersTrading, ChainSizesSOS} {
			opt := Options{Seed: uint64(k + 1), Metric: metric, Iterations: 2}
			r, err := Solve(g, opt)
			if err != nil {
				t.Fatal(err)
			}
			if r.Trades != want {
				t.Fatalf("graph %d (%s): %d trades, brute force %d\n%+v", k, metric, r.Trades, want, g)
			}
			checkLoops(t, g, r, opt)
		}
		capped := Options{Seed: uint64(k + 1), MaxLoop: 1 + rng.IntN(4), MaxCommunities: 1 + rng.IntN(3)}
		r, err := Solve(g, capped)
		if err != nil {
			t.Fatal(err)
		}
		if r.Trades > want {
			t.Fatalf("graph %d: %d trades under caps, more than the optimum %d", k, r.Trades, want)
		}
		checkLoops(t, g, r, capped)
	}
}

// plain is the maximum-trade solution with no metric search.
func plain(t *testing.T, g *Graph) Result {
	t.Helper()
	r, err := Solve(g, Options{Metric: ChainSizesSOS, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMetricNeverWorse(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for k := range 200 {
		g := randomGraph(uint64(k+1), 20+rng.IntN(200), 100+rng.IntN(1500))
		base := plain(t, g)
		r, err := Solve(g, Options{Seed: uint64(k + 1)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Trades != base.Trades {
			t.Fatalf("graph %d: %d trades, plain maximum %d", k, r.Trades, base.Trades)
		}
		if r.Users < base.Users {
			t.Fatalf("graph %d: %d users trading, plain maximum-trade solution has %d", k, r.Users, base.Users)
		}
		checkLoops(t, g, r, Options{})
		for _, m := range []Metric{ChainSizesSOS, UsersSOS, CombineShipping} {
			p, err := Solve(g, Options{Metric: m, Iterations: 1})
			if err != nil {
				t.Fatal(err)
			}
			r, err := Solve(g, Options{Metric: m, Iterations: 4, Seed: uint64(k + 1)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Trades != base.Trades || r.Score > p.Score {
				t.Fatalf("graph %d, %s: %d trades scoring %d, plain %d trades scoring %d", k, m, r.Trades, r.Score, base.Trades, p.Score)
			}
			checkLoops(t, g, r, Options{})
		}
	}
}

func TestComponents(t *testing.T) {
	// 0 <-> 1, 1 -> 2, 2 <-> 3, 4 alone
	start := []int32{0, 1, 3, 4, 5, 5}
	col := []int32{1, 0, 2, 3, 2}
	c := components(5, start, col)
	if c[0] != c[1] || c[2] != c[3] || c[0] == c[2] || c[4] == c[0] || c[4] == c[2] {
		t.Fatalf("components = %v", c)
	}
}

func TestNonTradeCost(t *testing.T) {
	// 0 and 1 want each other (cost 5 each); 2 and 3 too (cost 2 each).
	g := &Graph{Users: 4, Items: []Item{
		{User: 0, Wants: []Want{{1, 5}}}, {User: 1, Wants: []Want{{0, 5}}},
		{User: 2, Wants: []Want{{3, 2}}}, {User: 3, Wants: []Want{{2, 2}}},
	}}
	for _, tt := range []struct {
		cost   int64
		trades int
	}{{0, 4}, {100, 4}, {4, 2}, {1, 0}} {
		r, err := Solve(g, Options{NonTradeCost: tt.cost})
		if err != nil {
			t.Fatal(err)
		}
		if r.Trades != tt.trades {
			t.Fatalf("NonTradeCost %d: %d trades, want %d", tt.cost, r.Trades, tt.trades)
		}
	}
}

func TestCostRange(t *testing.T) {
	g := &Graph{Users: 2, Items: []Item{{User: 0, Wants: []Want{{1, 1 << 60}}}, {User: 1, Wants: []Want{{0, 1}}}}}
	if _, err := Solve(g, Options{}); err != ErrCostRange {
		t.Fatalf("got %v, want ErrCostRange", err)
	}
}
