package wantlist

import (
	"os"
	"testing"

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

func BenchmarkBR2024May(b *testing.B) {
	f := parseFile(b, "BR2024May.txt")
	for b.Loop() {
		solveFile(b, f, finder.Options{})
	}
}
