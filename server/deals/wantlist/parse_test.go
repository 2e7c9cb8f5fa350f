package wantlist

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/server/deals/finder"
)

func TestParseErrorLines(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		msg        string
	}{
		{"unknown option", "#! NOPE\n", 1, `Unknown option "NOPE"`},
		{"bad big step", "\n#! BIG-STEP=-1\n", 2, "BIG-STEP argument must be a non-negative integer"},
		{"bad nontrade cost", "#! NONTRADE-COST=0\n", 1, "NONTRADE-COST argument must be a positive integer"},
		{"bad priorities", "#! PRIORITIES=RANDOM\n", 1, `Unknown priority scheme "RANDOM"`},
		{"dummy official", "!BEGIN-OFFICIAL-NAMES\n%x\n", 2, "Cannot give official names for dummy items"},
		{"semicolon first", "(a) ; x y\n", 1, "Semicolon cannot appear before first item on line"},
		{"semicolon before colon", "(a) x ; y : z\n", 1, "Semicolon cannot appear before colon"},
		{"username alone", "(a)\n", 1, "Username cannot appear on a line by itself"},
		{"case-insensitive duplicate", "(a) x : y\n(b) X : y\n", 2, "Item X has multiple want lists (first at line 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.text))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if pe.Line != tt.line || pe.Msg != tt.msg {
				t.Fatalf("got %d: %s, want %d: %s", pe.Line, pe.Msg, tt.line, tt.msg)
			}
		})
	}
}

func TestPriorities(t *testing.T) {
	tests := []struct {
		scheme string
		costs  []int64 // of x's wants a b ; c
	}{
		{"", []int64{1, 1, 1}},
		{"#! PRIORITIES=LINEAR", []int64{1, 2, 12}},
		{"#! TRIANGLE-PRIORITIES", []int64{1, 3, 78}},
		{"#! PRIORITIES=SQUARE", []int64{1, 4, 144}},
		{"#! PRIORITIES=SCALED", []int64{1, 211, 2311}},
		{"#! PRIORITIES=LINEAR SMALL-STEP=2 BIG-STEP=0", []int64{1, 3, 5}},
	}
	for _, tt := range tests {
		f, err := Parse(strings.NewReader(tt.scheme + "\n(u) x : a b ; c\n(v) a : x\n(w) b : x\n(z) c : x\n"))
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, w := range f.Graph.Items[0].Wants {
			got = append(got, w.Cost)
		}
		if len(got) != 3 || got[0] != tt.costs[0] || got[1] != tt.costs[1] || got[2] != tt.costs[2] {
			t.Fatalf("%q: costs %v, want %v", tt.scheme, got, tt.costs)
		}
	}
	f, err := Parse(strings.NewReader("#! EXPLICIT-PRIORITIES\n(u) x : a=5 b=2\n(v) a : x\n(w) b : x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := f.Graph.Items[0].Wants; w[0].Cost != 5 || w[1].Cost != 2 {
		t.Fatalf("explicit: %v", w)
	}
}

// FuzzParse feeds arbitrary text to Parse; whatever parses must solve, and
// every printed trade must hold against the want lists.
func FuzzParse(f *testing.F) {
	f.Add("(a) x : y\n(b) y : x\n")
	f.Add("#! ALLOW-DUMMIES\n(a) x : %d\n(a) %d : y z\n(b) y : x\n(c) z : x\n")
	f.Add("!BEGIN-OFFICIAL-NAMES\nx\ny\n!END-OFFICIAL-NAMES\nx y\ny x z\n")
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 4096 {
			return
		}
		file, err := Parse(strings.NewReader(text))
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error %v is not an *Error with a line", err)
			}
			return
		}
		for _, opt := range []finder.Options{{Iterations: 2}, {MaxLoop: 3, MaxCommunities: 2}} {
			r, err := finder.Solve(&file.Graph, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range r.Loops {
				if opt.MaxLoop > 0 && len(l) > opt.MaxLoop {
					t.Fatalf("loop of %d over the cap %d", len(l), opt.MaxLoop)
				}
			}
			var out bytes.Buffer
			if err := WriteReport(&out, file, r, Report{}); err != nil {
				t.Fatal(err)
			}
			if !file.Options.HideLoops && !file.Options.HideSummary {
				if n := checkReport(t, file, out.String()); n != r.Trades {
					t.Fatalf("%d trade lines, %d trades", n, r.Trades)
				}
			}
		}
	})
}
