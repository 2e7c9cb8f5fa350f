package finder

import "math"

// banned marks an edge the cap search removed from the graph.
const banned = math.MaxInt64

// matcher is a minimum-cost perfect matching between rows (receivers) and
// columns (senders) on a sparse graph in CSR form, solved by shortest
// augmenting paths (Jonker-Volgenant with Dijkstra and column prices). It
// keeps its matching and prices between calls, so a small change of costs
// (one row freed) is repaired by one augmentation instead of a new solve.
type matcher struct {
	n     int
	start []int32 // row i's edges are start[i] .. start[i+1]-1
	col   []int32
	cost  []int64

	rowCol   []int32 // matched column of each row, -1 when free
	rowEdge  []int32 // edge index of the row's match
	colRow   []int32 // matched row of each column, -1 when free
	price    []int64 // column prices (duals)
	dist     []int64
	predEdge []int32 // edge by which a column was reached
	predRow  []int32 // row that edge leaves
	done     []bool
	touched  []int32
	scanned  []int32
	heap     distHeap
}

func newMatcher(n int, start, col []int32, cost []int64) *matcher {
	m := &matcher{n: n, start: start, col: col, cost: cost,
		rowCol: make([]int32, n), rowEdge: make([]int32, n), colRow: make([]int32, n),
		price: make([]int64, n), dist: make([]int64, n), predEdge: make([]int32, n), predRow: make([]int32, n), done: make([]bool, n)}
	for i := range n {
		m.rowCol[i], m.colRow[i], m.dist[i] = -1, -1, math.MaxInt64
	}
	return m
}

// greedy matches each row to a free cheapest column where one exists; with
// zero prices this keeps every matched row at its minimum reduced cost.
func (m *matcher) greedy() {
	for i := range m.n {
		best := int64(math.MaxInt64)
		for e := m.start[i]; e < m.start[i+1]; e++ {
			if c := m.cost[e]; c < best {
				best = c
			}
		}
		for e := m.start[i]; e < m.start[i+1]; e++ {
			if m.cost[e] == best && m.colRow[m.col[e]] < 0 {
				m.match(int32(i), e)
				break
			}
		}
	}
}

func (m *matcher) match(i, e int32) {
	j := m.col[e]
	m.rowCol[i], m.rowEdge[i], m.colRow[j] = j, e, i
}

// free unmatches row i (and its column).
func (m *matcher) free(i int32) {
	if j := m.rowCol[i]; j >= 0 {
		m.colRow[j] = -1
		m.rowCol[i] = -1
	}
}

// solve augments every free row. It returns false when some row cannot be
// matched (never with self edges present).
func (m *matcher) solve(progress func(done, total int)) bool {
	free := 0
	for i := range m.n {
		if m.rowCol[i] < 0 {
			free++
		}
	}
	k := 0
	for i := range m.n {
		if m.rowCol[i] >= 0 {
			continue
		}
		if !m.augment(int32(i)) {
			return false
		}
		k++
		if progress != nil && k%256 == 0 {
			progress(k, free)
		}
	}
	return true
}

// augment finds a cheapest augmenting path from free row r0 to any free
// column, updates the prices of the columns it settled and flips the path.
func (m *matcher) augment(r0 int32) bool {
	m.heap = m.heap[:0]
	m.relax(r0, 0)
	end, delta := int32(-1), int64(0)
	for len(m.heap) > 0 {
		d, j := m.heap.pop()
		if m.done[j] || d != m.dist[j] {
			continue
		}
		if m.colRow[j] < 0 {
			end, delta = j, d
			break
		}
		m.done[j] = true
		m.scanned = append(m.scanned, j)
		i := m.colRow[j]
		// the row's own reduced cost on its matched edge is its dual u_i
		u := m.cost[m.rowEdge[i]] - m.price[j]
		m.relax(i, d-u)
	}
	if end >= 0 {
		for _, j := range m.scanned {
			m.price[j] += m.dist[j] - delta
		}
		j := end
		for {
			e := m.predEdge[j]
			i := m.predRow[j]
			next := m.rowCol[i]
			m.rowCol[i], m.rowEdge[i], m.colRow[j] = j, e, i
			if i == r0 {
				break
			}
			j = next
		}
	}
	for _, j := range m.touched {
		m.dist[j] = math.MaxInt64
		m.done[j] = false
	}
	m.touched, m.scanned = m.touched[:0], m.scanned[:0]
	return end >= 0
}

// relax labels the columns of row i's edges reached at distance base to
// the row.
func (m *matcher) relax(i int32, base int64) {
	cols, costs := m.col[m.start[i]:m.start[i+1]], m.cost[m.start[i]:m.start[i+1]]
	dist, done, price := m.dist, m.done, m.price
	for k, j := range cols {
		c := costs[k]
		if c == banned || done[j] {
			continue
		}
		d := base + c - price[j]
		if d < dist[j] {
			if dist[j] == math.MaxInt64 {
				m.touched = append(m.touched, j)
			}
			dist[j] = d
			m.predEdge[j] = m.start[i] + int32(k)
			m.predRow[j] = i
			m.heap.push(d, j)
		}
	}
}

// distHeap is a binary min-heap of (distance, column) with lazy deletion.
type distHeap []heapEntry

type heapEntry struct {
	d int64
	j int32
}

func (h *distHeap) push(d int64, j int32) {
	*h = append(*h, heapEntry{d, j})
	a := *h
	k := len(a) - 1
	for k > 0 {
		p := (k - 1) / 2
		if a[p].d <= a[k].d {
			break
		}
		a[p], a[k] = a[k], a[p]
		k = p
	}
}

func (h *distHeap) pop() (int64, int32) {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	k := 0
	for {
		l := 2*k + 1
		if l >= len(a) {
			break
		}
		s := l
		if r := l + 1; r < len(a) && a[r].d < a[l].d {
			s = r
		}
		if a[k].d <= a[s].d {
			break
		}
		a[k], a[s] = a[s], a[k]
		k = s
	}
	*h = a
	return top.d, top.j
}
