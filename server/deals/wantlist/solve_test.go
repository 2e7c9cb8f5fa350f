package wantlist

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/server/deals/finder"
)

func parseFile(t testing.TB, name string) *File {
	t.Helper()
	fh, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	f, err := Parse(fh)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

func solveFile(t testing.TB, f *File, opt finder.Options) finder.Result {
	t.Helper()
	opt.Metric, opt.Iterations, opt.Seed, opt.NonTradeCost = f.Options.Metric, f.Options.Iterations, f.Options.Seed, f.Options.NonTradeCost
	r, err := finder.Solve(&f.Graph, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// BenchmarkBR2024May solves the real BR2024May want lists as the file asks
// (Users-Trading) and for the most trades only, reporting the peak heap.
func BenchmarkBR2024May(b *testing.B) {
	f := parseFile(b, "BR2024May.txt")
	for _, bm := range []struct {
		name string
		opt  finder.Options
	}{
		{"users-trading", finder.Options{Metric: finder.UsersTrading, Seed: f.Options.Seed}},
		{"max-trades", finder.Options{Metric: finder.ChainSizesSOS}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			var peak uint64
			var r finder.Result
			for b.Loop() {
				peak = max(peak, peakHeap(func() {
					var err error
					if r, err = finder.Solve(&f.Graph, bm.opt); err != nil {
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

// peakHeap samples the heap in use while f runs (every millisecond, and at
// the end) and returns its peak above the heap before.
func peakHeap(f func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak uint64
	stop, done := make(chan struct{}), make(chan struct{})
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

// checkReport reads the TRADE LOOPS section of a report back and checks each
// line against the want lists: every item gives once and receives once,
// and receives something on its own list, directly or through a chain of
// its user's dummies. It returns the number of trade lines.
func checkReport(t *testing.T, f *File, report string) int {
	t.Helper()
	byShow := map[string]int{}
	for i, it := range f.Items {
		if !it.Dummy {
			byShow[f.show(i)] = i
		}
	}
	section := report[strings.Index(report, "TRADE LOOPS"):strings.Index(report, "ITEM SUMMARY")]
	gives, gets := map[int]bool{}, map[int]bool{}
	n := 0
	for _, line := range strings.Split(section, "\n")[1:] {
		if line == "" {
			continue
		}
		a, b, ok := strings.Cut(line, " receives ")
		if !ok {
			t.Fatalf("bad trade line %q", line)
		}
		i, ok1 := byShow[strings.TrimSpace(a)]
		j, ok2 := byShow[b]
		if !ok1 || !ok2 {
			t.Fatalf("trade line %q names an item that is not in the file (or a dummy)", line)
		}
		if gets[i] || gives[j] {
			t.Fatalf("trade line %q: an item receives or gives twice", line)
		}
		gets[i], gives[j] = true, true
		if !listHolds(f, i, j) {
			t.Fatalf("trade line %q: %s does not want %s", line, f.Items[i].Name, f.Items[j].Name)
		}
		n++
	}
	for i := range gets {
		if !gives[i] {
			t.Fatalf("%s receives but gives nothing", f.Items[i].Name)
		}
	}
	return n
}

// listHolds reports whether item i's list holds j, directly or through the
// user's dummies.
func listHolds(f *File, i, j int) bool {
	seen := map[int]bool{}
	var walk func(k int) bool
	walk = func(k int) bool {
		for _, w := range f.Graph.Items[k].Wants {
			if w.Item == j {
				return true
			}
			d := f.Items[w.Item]
			if d.Dummy && f.Graph.Items[w.Item].User == f.Graph.Items[i].User && !seen[w.Item] {
				seen[w.Item] = true
				if walk(w.Item) {
					return true
				}
			}
		}
		return false
	}
	return walk(i)
}

func TestSharedFiles(t *testing.T) {
	tests := []struct {
		file     string
		trades   int
		minUsers int
	}{
		{"BR2024May.txt", 196, 78},
		{"xmas.txt", 356, 356}, // no usernames: each item is its own user
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := parseFile(t, tt.file)
			r := solveFile(t, f, finder.Options{})
			var out bytes.Buffer
			if err := WriteReport(&out, f, r, Report{}); err != nil {
				t.Fatal(err)
			}
			report := out.String()
			head := fmt.Sprintf("TRADE LOOPS (%d total trades):\n", tt.trades)
			if !strings.Contains(report, head) {
				t.Fatalf("report lacks %q; got Trades = %d", head, r.Trades)
			}
			if r.Users < tt.minUsers {
				t.Fatalf("got %d users trading, want at least %d", r.Users, tt.minUsers)
			}
			if n := checkReport(t, f, report); n != tt.trades {
				t.Fatalf("got %d trade lines, want %d", n, tt.trades)
			}
			if strings.Contains(report, "%") && strings.Contains(report[:strings.Index(report, "ITEM SUMMARY")], " for user ") {
				t.Fatal("a dummy appears in a trade line")
			}
		})
	}
}

func TestCapsOnSharedFiles(t *testing.T) {
	f := parseFile(t, "BR2024May.txt")
	for _, maxLoop := range []int{2, 5} {
		r := solveFile(t, f, finder.Options{MaxLoop: maxLoop})
		for _, l := range r.Loops {
			if len(l) > maxLoop {
				t.Fatalf("--max-loop %d: loop of %d", maxLoop, len(l))
			}
		}
		if r.Trades > 196 || r.Trades == 0 {
			t.Fatalf("--max-loop %d: %d trades", maxLoop, r.Trades)
		}
	}
}
