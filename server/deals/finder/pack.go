package finder

// packBudget bounds the edges the loop packing looks at, so a cap on a
// huge graph still ends in bounded time.
const packBudget = 100_000_000

// pack makes the matching respect the caps and then fills it up: every
// loop over a cap is dissolved (its items, dummies included, go back to not
// trading), and then, for each item that does not trade in turn, the
// shortest loop back to it through items that do not trade either is added
// when it is within the caps. With all, every loop is dissolved first.
// Items are taken in the given order. It repeats until a pass adds nothing. The
// prices are not kept up to date: no augmentation may follow.
func (s *solver) pack(all bool, order []int) {
	for _, l := range s.loops() {
		if all || s.violates(l) {
			for _, v := range s.cycleOf(l) {
				s.m.rowCol[v], s.m.rowEdge[v], s.m.colRow[v] = v, s.selfEdge[v], v
			}
		}
	}
	if s.opt.MaxLoop == 1 || s.opt.MaxCommunities == 1 && !s.sameCommunityPossible() {
		return
	}
	p := &packer{s: s, dist: make([]int32, s.n), pred: make([]int32, s.n), budget: packBudget}
	for i := range p.dist {
		p.dist[i] = -1
	}
	for added := true; added && p.budget > 0; {
		added = false
		for _, src := range order {
			if s.g.Items[src].Dummy || !s.canTrade(src) || s.trading(src) {
				continue
			}
			if cyc := p.shortest(int32(src)); cyc != nil {
				s.setCycle(cyc)
				added = true
			}
		}
	}
}

// sameCommunityPossible reports whether two items of one community exist
// with different users (else a one-community cap allows no loop at all).
func (s *solver) sameCommunityPossible() bool {
	first := map[int]int{}
	for i, it := range s.g.Items {
		if it.Dummy {
			continue
		}
		if u, ok := first[it.Community]; ok && u != s.userOf[i] {
			return true
		}
		first[it.Community] = s.userOf[i]
	}
	return false
}

// cycleOf is a loop's matching cycle: its real items with the dummies
// each receives through.
func (s *solver) cycleOf(loop []int) []int32 {
	var cycle []int32
	for _, i := range loop {
		cycle = append(cycle, int32(i))
		for j := s.m.rowCol[i]; s.g.Items[j].Dummy; j = s.m.rowCol[j] {
			cycle = append(cycle, j)
		}
	}
	return cycle
}

// setCycle matches cyc[t] to cyc[t+1] (cyc[t] receives cyc[t+1]).
func (s *solver) setCycle(cyc []int32) {
	for t, v := range cyc {
		w := cyc[(t+1)%len(cyc)]
		for e := s.m.start[v]; e < s.m.start[v+1]; e++ {
			if s.m.col[e] == w {
				s.m.rowCol[v], s.m.rowEdge[v], s.m.colRow[w] = w, e, v
				break
			}
		}
	}
}

type packer struct {
	s       *solver
	dist    []int32 // real items on the path from the source, -1 unseen
	pred    []int32
	touched []int32
	cur     []int32
	next    []int32
	budget  int64
}

// shortest finds a shortest loop (in real items) through src among items
// that do not trade, within the caps, or nil. Dummies cost nothing: a 0-1
// breadth-first search.
func (p *packer) shortest(src int32) []int32 {
	s := p.s
	limit := int32(s.opt.MaxLoop)
	if limit <= 0 {
		limit = int32(s.n)
	}
	defer func() {
		for _, v := range p.touched {
			p.dist[v] = -1
		}
		p.touched = p.touched[:0]
	}()
	p.dist[src], p.pred[src] = 1, -1
	p.touched = append(p.touched, src)
	p.cur = append(p.cur[:0], src)
	for len(p.cur) > 0 {
		p.next = p.next[:0]
		for k := 0; k < len(p.cur); k++ {
			v := p.cur[k]
			d := p.dist[v]
			for e := s.m.start[v]; e < s.m.start[v+1]; e++ {
				p.budget--
				w := s.m.col[e]
				if w == v {
					continue
				}
				if w == src {
					if cyc := p.path(v); !s.violatesCycle(cyc) {
						return cyc
					}
					continue
				}
				if s.trading(int(w)) {
					continue
				}
				nd := d
				if !s.g.Items[w].Dummy {
					nd++
				}
				if nd > limit || p.dist[w] >= 0 && p.dist[w] <= nd {
					continue
				}
				if p.dist[w] < 0 {
					p.touched = append(p.touched, w)
				}
				p.dist[w], p.pred[w] = nd, v
				if nd == d {
					p.cur = append(p.cur, w)
				} else {
					p.next = append(p.next, w)
				}
			}
			if p.budget <= 0 {
				return nil
			}
		}
		p.cur, p.next = p.next, p.cur
	}
	return nil
}

// path is the cycle src … v in receiving order (src receives the next).
func (p *packer) path(v int32) []int32 {
	var rev []int32
	for ; v >= 0; v = p.pred[v] {
		rev = append(rev, v)
	}
	for a, b := 0, len(rev)-1; a < b; a, b = a+1, b-1 {
		rev[a], rev[b] = rev[b], rev[a]
	}
	return rev
}

// violatesCycle checks the caps on a cycle's real items.
func (s *solver) violatesCycle(cyc []int32) bool {
	var loop []int
	for _, v := range cyc {
		if !s.g.Items[v].Dummy {
			loop = append(loop, int(v))
		}
	}
	return len(loop) < 2 || s.violates(loop)
}
