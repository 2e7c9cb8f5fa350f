package finder

// components labels the strongly connected components of the graph whose
// arcs are the CSR edges (row i to column col[e]), iteratively (Tarjan).
// A want can only be part of a loop when both its ends share a component,
// so the solver drops every other want before matching.
func components(n int, start, col []int32) []int32 {
	const none = -1
	index := make([]int32, n)
	low := make([]int32, n)
	comp := make([]int32, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i], comp[i] = none, none
	}
	var stack []int32
	type frame struct{ v, e int32 }
	var calls []frame
	next, nComp := int32(0), int32(0)
	for root := range int32(n) {
		if index[root] != none {
			continue
		}
		calls = append(calls, frame{root, start[root]})
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			v := f.v
			if f.e < start[v+1] {
				w := col[f.e]
				f.e++
				if index[w] == none {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					calls = append(calls, frame{w, start[w]})
				} else if onStack[w] {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = nComp
					if w == v {
						break
					}
				}
				nComp++
			}
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				u := calls[len(calls)-1].v
				low[u] = min(low[u], low[v])
			}
		}
	}
	return comp
}
