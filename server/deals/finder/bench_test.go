package finder

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// randomGraph makes a want graph of n items owned by n/25 users with w wants
// in all, popular items wanted more often (an item's index squared), from a
// fixed seed.
func randomGraph(seed uint64, n, w int) *Graph { return skewedGraph(seed, n, w, 2) }

// skewedGraph is randomGraph with the wanted item's index drawn as
// n·x^skew: the higher the skew, the fewer items are wanted at all.
func skewedGraph(seed uint64, n, w int, skew float64) *Graph {
	rng := rand.New(rand.NewPCG(seed, seed))
	users := max(n/25, 2)
	g := &Graph{Users: users, Items: make([]Item, n)}
	for i := range g.Items {
		u := rng.IntN(users)
		g.Items[i] = Item{User: u, Community: u % 10}
	}
	for k := 0; k < w; k++ {
		i := rng.IntN(n)
		j := int(math.Pow(rng.Float64(), skew) * float64(n))
		if j == i || g.Items[j].User == g.Items[i].User {
			continue
		}
		it := &g.Items[i]
		it.Wants = append(it.Wants, Want{Item: j, Cost: int64(len(it.Wants) + 1)})
	}
	return g
}

// peakHeap samples the heap in use while f runs and returns its peak.
func peakHeap(f func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				peak = max(peak, read())
			}
		}
	}()
	f()
	close(stop)
	<-done
	peak = max(peak, read())
	return max(peak, base) - base
}

// BenchmarkRandom10k250k solves generated graphs of 10,000 items and
// 250,000 wants: "x2", where popular items are wanted more (and every item
// can trade), and "x6", so skewed that most items are wanted by nobody.
func BenchmarkRandom10k250k(b *testing.B) {
	for _, skew := range []float64{2, 6} {
		g := skewedGraph(1, 10_000, 250_000, skew)
		b.Run(fmt.Sprintf("x%g", skew), func(b *testing.B) {
			var peak uint64
			var r Result
			for b.Loop() {
				peak = max(peak, peakHeap(func() {
					var err error
					if r, err = Solve(g, Options{Seed: 1}); err != nil {
						b.Fatal(err)
					}
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
			b.ReportMetric(float64(r.Trades), "trades")
			b.ReportMetric(float64(r.Users), "users")
		})
	}
}
