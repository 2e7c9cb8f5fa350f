package finder

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Graph is a want graph: items, each with its owner and the items it would
// be traded for, best first.
type Graph struct {
	Items []Item
	// Users is the number of distinct users; Item.User indexes them.
	Users int
}

// Item is one item offered for trade.
type Item struct {
	User      int  // owner, -1 when the item has none (each such item is its own user)
	Community int  // community of the owner; loops are capped on distinct values
	Dummy     bool // a dummy item (%name): a way to say "any one of these", never traded itself
	Wants     []Want
}

// Want is an item this item's owner would take for it, with the priority
// cost of that trade (1 without priorities; lower is preferred).
type Want struct {
	Item int
	Cost int64
}

// Metric chooses among solutions with the most trades.
type Metric int

const (
	UsersTrading    Metric = iota // most users trading (the default)
	ChainSizesSOS                 // smallest sum of squares of loop sizes
	UsersSOS                      // smallest sum of squares of each user's trades
	CombineShipping               // most repeated sender/receiver pairs
)

var metricNames = map[Metric]string{UsersTrading: "Users-Trading", ChainSizesSOS: "Chain-Sizes-SOS",
	UsersSOS: "Users-SOS", CombineShipping: "Combine-Shipping"}

func (m Metric) String() string { return metricNames[m] }

// Options tune a solve; the zero value asks for the most trades, then the
// most users trading, then the cheapest priorities, with no caps.
type Options struct {
	Metric Metric
	// Iterations is the number of restarts of the metric search, each from
	// a differently shuffled order (TradeMaximizer's ITERATIONS); 0 means 1.
	Iterations int
	Seed       uint64
	// NonTradeCost, when set, is the cost of an item not trading
	// (TradeMaximizer's NONTRADE-COST): a small value lets priorities win
	// over the number of trades. Zero means "large enough that the number of
	// trades always comes first".
	NonTradeCost int64
	// MaxLoop caps the number of real items in a loop; 0 means no cap.
	MaxLoop int
	// MaxCommunities caps the number of distinct communities in a loop; 0
	// means no cap.
	MaxCommunities int
	// Progress, when set, is told the phase and counts as the solve goes.
	Progress func(phase string, done, total int)
}

// Result is a set of trade loops.
type Result struct {
	// Loops lists the real items of each loop: Loops[k][t] receives
	// Loops[k][t+1] (and the last receives the first). Dummies are left out:
	// an item that receives through its owner's dummy receives what the
	// dummy would have received.
	Loops [][]int
	// Receives[i] is the item i receives, -1 when i does not trade.
	Receives []int
	Trades   int
	// Users is the number of users with an item trading.
	Users int
	// Cost is the sum of the priority costs of the trades made.
	Cost int64
	// Score is the chosen metric's value, lower is better (TradeMaximizer's
	// convention: users trading counts negative).
	Score int64
	// MetricText shows the metric as TradeMaximizer does, e.g.
	// "[ users trading = 78 ]".
	MetricText string
}

// ErrCostRange is returned when priority costs are too large to combine
// exactly in 64-bit arithmetic.
var ErrCostRange = errors.New("priority costs too large for an exact solve")

// solver holds one solve's graph in CSR form and its matcher.
type solver struct {
	g        *Graph
	opt      Options
	n        int
	m        *matcher
	prio     []int64 // priority cost of each edge (0 for self and dummy edges)
	selfEdge []int32
	big      int64 // cost of a real item not trading
	anchor   int64 // extra cost of an anchored item not trading (0: no anchors)
	userOf   []int // user key per item (items without user get their own)
	nUsers   int
	rng      *rand.Rand
}

// Solve finds the trade loops: the most items trading, exactly; then the
// best value of the metric found by the search the package doc describes;
// then the lowest priority cost; then, if asked, the caps.
func Solve(g *Graph, opt Options) (Result, error) {
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	s, err := solveOnce(g, opt, rng)
	if err != nil {
		return Result{}, err
	}
	if opt.Metric == UsersTrading {
		if s.anchor > 0 && g.Users > 0 {
			s = usersRestarts(s, max(opt.Iterations, MinUsersRestarts), rng)
		}
	} else {
		bestScore, _ := s.score(s.loops())
		bestCost := s.prioCost()
		var base snapshot
		s.save(&base)
		baseCost := slices.Clone(s.m.cost)
		first := s
		for k := 1; k < opt.Iterations; k++ {
			// TradeMaximizer's search: equal costs shuffled by a random
			// tie-break below one unit of priority
			t := first.shuffled(baseCost, rng)
			t.warmStart(&base)
			sc, _ := t.score(t.loops())
			if c := t.prioCost(); sc < bestScore || sc == bestScore && c < bestCost {
				s, bestScore, bestCost = t, sc, c
			}
			opt.progressf("iterations", k+1, opt.Iterations)
		}
	}
	if opt.MaxLoop > 0 || opt.MaxCommunities > 0 {
		return s.capped(), nil
	}
	r := s.result()
	return r, nil
}

// solveOnce builds the solver and finds a minimum-cost perfect matching.
func solveOnce(g *Graph, opt Options, rng *rand.Rand) (*solver, error) {
	s, err := newSolver(g, opt, rng)
	if err != nil {
		return nil, err
	}
	s.progress("matching", 0, s.n)
	s.m.greedy()
	if !s.m.solve(func(d, t int) { s.progress("matching", d, t) }) {
		return nil, errors.New("no perfect matching (internal error)")
	}
	return s, nil
}

// usersRestarts runs the Users-Trading search from several maximum-trade
// matchings: the first one, then others found with equal priorities
// shuffled by a random tie-break, each with a random order of users and
// random anchors. It keeps the best and stops early once every user with a
// want list trades.
func usersRestarts(s *solver, restarts int, rng *rand.Rand) *solver {
	bound := 0
	seenUser := make([]bool, s.nUsers+s.n)
	for i, it := range s.g.Items {
		if !it.Dummy && s.canTrade(i) && !seenUser[s.userOf[i]] {
			seenUser[s.userOf[i]] = true
			bound++
		}
	}
	var best *solver
	bestUsers, bestPrio := -1, int64(0)
	var base snapshot
	s.save(&base)
	baseCost := slices.Clone(s.m.cost)
	for k := range restarts {
		t := s
		if k > 0 {
			t = s.shuffled(baseCost, rng)
			t.warmStart(&base)
		}
		t.usersSearch(k > 0)
		_, users := t.counts(seenUser)
		if c := t.prioCost(); users > bestUsers || users == bestUsers && c < bestPrio {
			best, bestUsers, bestPrio = t, users, c
		}
		s.opt.progressf("restarts", k+1, restarts)
		if bestUsers >= bound {
			break
		}
	}
	return best
}

// MinUsersRestarts is the least number of restarts of the Users-Trading
// search, whatever ITERATIONS says.
const MinUsersRestarts = 16

// perturbScale scales every priority cost, leaving room for a random
// tie-break below one unit of priority in the restarts that shuffle ties.
const perturbScale = 64

func (o Options) progressf(phase string, done, total int) {
	if o.Progress != nil {
		o.Progress(phase, done, total)
	}
}

func newSolver(g *Graph, opt Options, rng *rand.Rand) (*solver, error) {
	n := len(g.Items)
	s := &solver{g: g, opt: opt, n: n, userOf: make([]int, n), nUsers: g.Users, rng: rng}
	for i, it := range g.Items {
		if it.User >= 0 {
			s.userOf[i] = it.User
		} else {
			s.userOf[i] = g.Users + i
		}
	}
	var maxP int64
	edges := n
	for _, it := range g.Items {
		edges += len(it.Wants)
		for _, w := range it.Wants {
			if w.Cost < 0 {
				return nil, fmt.Errorf("negative priority cost %d", w.Cost)
			}
			maxP = max(maxP, w.Cost)
		}
	}
	const limit = math.MaxInt64 / 4
	nn := int64(n) + 2
	if maxP > limit/perturbScale/nn/nn {
		return nil, ErrCostRange
	}
	maxP = maxP*perturbScale + perturbScale
	switch {
	case opt.NonTradeCost > 0:
		if opt.NonTradeCost > limit/perturbScale/nn {
			return nil, ErrCostRange
		}
		s.big = opt.NonTradeCost * perturbScale
	case maxP <= limit/nn/nn/nn:
		// one anchored item not trading costs more than every priority cost
		// together; one item not trading costs more than every anchor.
		s.anchor = nn*maxP + 1
		s.big = nn * s.anchor
	default:
		// no room for the anchor tier: no users-trading search
		s.big = nn*maxP + 1
	}
	start := make([]int32, n+1)
	col := make([]int32, 0, edges)
	cost := make([]int64, 0, edges)
	s.prio = make([]int64, 0, edges)
	s.selfEdge = make([]int32, n)
	for i, it := range g.Items {
		start[i] = int32(len(col))
		for _, w := range it.Wants {
			c, p := w.Cost, w.Cost
			c *= perturbScale
			if it.Dummy {
				c, p = s.big, 0 // every edge out of a dummy costs like not trading
			}
			col = append(col, int32(w.Item))
			cost = append(cost, c)
			s.prio = append(s.prio, p)
		}
		s.selfEdge[i] = int32(len(col))
		col = append(col, int32(i))
		cost = append(cost, s.big)
		s.prio = append(s.prio, 0)
	}
	start[n] = int32(len(col))
	// a want can only be in a loop when both its ends share a strongly
	// connected component: keep only those
	comp := components(n, start, col)
	k := int32(0)
	for i := range n {
		from := start[i]
		start[i] = k
		for e := from; e < start[i+1]; e++ {
			if comp[col[e]] == comp[i] {
				if col[e] == int32(i) {
					s.selfEdge[i] = k
				}
				col[k], cost[k], s.prio[k] = col[e], cost[e], s.prio[e]
				k++
			}
		}
	}
	start[n] = k
	col, cost, s.prio = col[:k:k], cost[:k:k], s.prio[:k:k]
	s.m = newMatcher(n, start, col, cost)
	return s, nil
}

func (s *solver) progress(phase string, done, total int) {
	if s.opt.Progress != nil {
		s.opt.Progress(phase, done, total)
	}
}

// shuffled is a copy of the solver sharing its graph, with the unshuffled
// costs base given a random tie-break below one unit of priority on every
// want of a real item.
func (s *solver) shuffled(base []int64, rng *rand.Rand) *solver {
	t := *s
	cost := slices.Clone(base)
	for i, it := range s.g.Items {
		if it.Dummy {
			continue
		}
		for e := s.m.start[i]; e < s.m.start[i+1]; e++ {
			if e != s.selfEdge[i] && cost[e] != banned {
				cost[e] += rng.Int64N(perturbScale)
			}
		}
	}
	t.m = newMatcher(s.n, s.m.start, s.m.col, cost)
	return &t
}

// warmStart starts the matcher from another solver's matching and prices
// on the same graph with unshuffled costs (a snapshot taken right after its
// solve): every row whose matched edge is no longer its cheapest in reduced
// cost under the shuffled costs is freed, which keeps the prices feasible
// for the others, and the freed rows are augmented again.
func (s *solver) warmStart(base *snapshot) {
	s.restore(base)
	m := s.m
	for i := range s.n {
		e0 := m.rowEdge[i]
		rc := m.cost[e0] - m.price[m.col[e0]]
		for e := m.start[i]; e < m.start[i+1]; e++ {
			if c := m.cost[e]; c != banned && c-m.price[m.col[e]] < rc {
				m.free(int32(i))
				break
			}
		}
	}
	m.solve(nil)
}

// canTrade reports whether item i has a want that some loop could use.
func (s *solver) canTrade(i int) bool { return s.m.start[i+1]-s.m.start[i] > 1 }

// trading reports whether real item i trades in the current matching.
func (s *solver) trading(i int) bool { return s.m.rowCol[i] != int32(i) }

// counts returns the number of real items trading and of users trading.
func (s *solver) counts(seen []bool) (trades, users int) {
	clear(seen)
	for i, it := range s.g.Items {
		if it.Dummy || !s.trading(i) {
			continue
		}
		trades++
		if u := s.userOf[i]; !seen[u] {
			seen[u] = true
			users++
		}
	}
	return trades, users
}

// receives follows item i's match through dummies to the real item it gets.
func (s *solver) receives(i int) int {
	j := int(s.m.rowCol[i])
	for s.g.Items[j].Dummy {
		j = int(s.m.rowCol[j])
	}
	return j
}

// loops reads the loops of real items off the matching, each starting at
// its first item in input order.
func (s *solver) loops() [][]int {
	seen := make([]bool, s.n)
	var out [][]int
	for i, it := range s.g.Items {
		if it.Dummy || seen[i] || !s.trading(i) {
			continue
		}
		var loop []int
		for j := i; !seen[j]; j = s.receives(j) {
			seen[j] = true
			loop = append(loop, j)
		}
		out = append(out, loop)
	}
	return out
}

// snapshot is a saved matching with its prices.
type snapshot struct {
	rowCol, rowEdge, colRow []int32
	price                   []int64
}

func (s *solver) save(sn *snapshot) {
	sn.rowCol = append(sn.rowCol[:0], s.m.rowCol...)
	sn.rowEdge = append(sn.rowEdge[:0], s.m.rowEdge...)
	sn.colRow = append(sn.colRow[:0], s.m.colRow...)
	sn.price = append(sn.price[:0], s.m.price...)
}

func (s *solver) restore(sn *snapshot) {
	copy(s.m.rowCol, sn.rowCol)
	copy(s.m.rowEdge, sn.rowEdge)
	copy(s.m.colRow, sn.colRow)
	copy(s.m.price, sn.price)
}

// usersSearch looks among maximum-trade matchings for more users trading.
// A user who does not trade gets one item at a time forced in (its "not
// trading" cost raised by the anchor tier, which is less than one trade),
// and the matching is repaired by one augmentation; the probe is kept when
// the trades stay and the users trading grow, and the item stays anchored.
func (s *solver) usersSearch(randomAnchors bool) {
	seen := make([]bool, s.nUsers+s.n)
	baseTrades, users := s.counts(seen)
	byUser := make([][]int, s.nUsers)
	for i, it := range s.g.Items {
		if !it.Dummy && it.User >= 0 {
			byUser[it.User] = append(byUser[it.User], i)
		}
	}
	// anchor one trading item of each trading user
	anchored := make([]bool, s.nUsers)
	items := make([]int, s.n)
	for i := range items {
		items[i] = i
	}
	if randomAnchors {
		s.rng.Shuffle(len(items), func(a, b int) { items[a], items[b] = items[b], items[a] })
	}
	for _, i := range items {
		if item := s.g.Items[i]; !item.Dummy && item.User >= 0 && s.trading(i) && !anchored[item.User] {
			anchored[item.User] = true
			s.m.cost[s.selfEdge[i]] += s.anchor
		}
	}
	var probe snapshot
	order := s.rng.Perm(s.nUsers)
	for range 2 {
		improved := false
		for k, u := range order {
			s.progress("users", k, len(order))
			if anchored[u] {
				continue
			}
			items := slices.Clone(byUser[u])
			s.rng.Shuffle(len(items), func(a, b int) { items[a], items[b] = items[b], items[a] })
			for _, a := range items {
				if !s.canTrade(a) {
					continue
				}
				s.save(&probe)
				e := s.selfEdge[a]
				s.m.cost[e] += s.anchor
				s.m.free(int32(a))
				ok := s.m.augment(int32(a))
				trades, nu := s.counts(seen)
				if ok && trades == baseTrades && nu > users && s.trading(a) {
					users, anchored[u], improved = nu, true, true
					break
				}
				s.restore(&probe)
				s.m.cost[e] -= s.anchor
			}
		}
		if !improved {
			break
		}
	}
}

// prioCost is the priority cost of the real items' trades.
func (s *solver) prioCost() int64 {
	var c int64
	for i, it := range s.g.Items {
		if !it.Dummy && s.trading(i) {
			c += s.prio[s.m.rowEdge[i]]
		}
	}
	return c
}

// score is the chosen metric of loops (lower is better) and its text.
func (s *solver) score(loops [][]int) (int64, string) {
	switch s.opt.Metric {
	case ChainSizesSOS:
		var sum int64
		sizes := make([]int, 0, len(loops))
		for _, l := range loops {
			sum += int64(len(l) * len(l))
			sizes = append(sizes, len(l))
		}
		slices.Sort(sizes)
		slices.Reverse(sizes)
		text := fmt.Sprintf("[ %d :", sum)
		for _, z := range sizes {
			text += fmt.Sprintf(" %d", z)
		}
		return sum, text + " ]"
	case UsersSOS:
		per := map[int]int64{}
		for _, l := range loops {
			for _, i := range l {
				per[s.userOf[i]]++
			}
		}
		var sum int64
		for _, c := range per {
			sum += c * c
		}
		return sum, fmt.Sprintf("[ users trading = %d, sum of squares = %d ]", len(per), sum)
	case CombineShipping:
		pairs := map[[2]int]int{}
		for _, l := range loops {
			for t, i := range l {
				pairs[[2]int{s.userOf[i], s.userOf[l[(t+1)%len(l)]]}]++
			}
		}
		n := 0
		for _, c := range pairs {
			if c > 1 {
				n += c - 1
			}
		}
		return -int64(n), fmt.Sprintf("[ combine shipping = %d ]", n)
	default:
		users := map[int]bool{}
		for _, l := range loops {
			for _, i := range l {
				users[s.userOf[i]] = true
			}
		}
		return -int64(len(users)), fmt.Sprintf("[ users trading = %d ]", len(users))
	}
}

// violates reports whether a loop breaks a cap.
func (s *solver) violates(loop []int) bool {
	if s.opt.MaxLoop > 0 && len(loop) > s.opt.MaxLoop {
		return true
	}
	if s.opt.MaxCommunities > 0 {
		seen := map[int]bool{}
		for _, i := range loop {
			seen[s.g.Items[i].Community] = true
		}
		return len(seen) > s.opt.MaxCommunities
	}
	return false
}

// capShuffles is the number of random item orders the packing of capped
// loops also tries.
var capShuffles = 4

// capSteers is the number of runs of applyCaps (each bans other random
// edges) the caps try.
var capSteers = 3

// capRounds bounds the cap search: each round removes one edge of every
// loop over a cap and repairs the matching.
const capRounds = 256

// applyCaps pushes the matching towards loops within the caps: each round
// removes one randomly chosen edge of each loop over a cap from the graph
// and re-augments the freed rows, so the solver looks for the best matching
// without those edges. Loops still over a cap after the last round are
// left for pack to dissolve.
func (s *solver) applyCaps() {
	for round := range capRounds {
		var freed []int32
		for _, l := range s.loops() {
			if !s.violates(l) {
				continue
			}
			// the matching's cycle includes dummies: pick any row on it
			var cycle []int32
			for _, i := range l {
				cycle = append(cycle, int32(i))
				for j := s.m.rowCol[i]; s.g.Items[j].Dummy; j = s.m.rowCol[j] {
					cycle = append(cycle, j)
				}
			}
			r := cycle[s.rng.IntN(len(cycle))]
			s.m.cost[s.m.rowEdge[r]] = banned
			s.m.free(r)
			freed = append(freed, r)
		}
		if len(freed) == 0 {
			return
		}
		s.progress("caps", round, capRounds)
		for _, r := range freed {
			s.m.augment(r)
		}
	}
}

// capped is the best of two ways to respect the caps, by trades, then
// users trading, then priority cost: packing short loops among the items
// of the uncapped optimum's loops over a cap (and every item that does not
// trade), and the same after applyCaps has steered the matcher away from
// long loops. Neither is exact: see the package doc.
func (s *solver) capped() Result {
	var sn snapshot
	s.save(&sn)
	costs := slices.Clone(s.m.cost)
	inOrder := make([]int, s.n)
	for i := range inOrder {
		inOrder[i] = i
	}
	var best Result
	first := true
	try := func(steer, all bool, order []int) {
		s.restore(&sn)
		copy(s.m.cost, costs)
		if steer {
			s.applyCaps()
		}
		s.pack(all, order)
		r := s.result()
		if first || r.Trades > best.Trades || r.Trades == best.Trades && (r.Users > best.Users || r.Users == best.Users && r.Cost < best.Cost) {
			best, first = r, false
		}
	}
	try(false, false, inOrder)
	for range capSteers {
		try(true, false, inOrder)
	}
	try(false, true, inOrder)
	for range capShuffles {
		try(false, false, s.rng.Perm(s.n))
		try(false, true, s.rng.Perm(s.n))
	}
	return best
}

func (s *solver) result() Result {
	r := Result{Receives: make([]int, s.n)}
	for i := range r.Receives {
		r.Receives[i] = -1
	}
	for _, l := range s.loops() {
		if s.violates(l) {
			continue
		}
		r.Loops = append(r.Loops, l)
		for t, i := range l {
			r.Receives[i] = l[(t+1)%len(l)]
			r.Cost += s.prio[s.m.rowEdge[i]]
		}
		r.Trades += len(l)
	}
	users := map[int]bool{}
	for _, l := range r.Loops {
		for _, i := range l {
			users[s.userOf[i]] = true
		}
	}
	r.Users = len(users)
	r.Score, r.MetricText = s.score(r.Loops)
	return r
}
