package chart

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// element is one parsed SVG element with its attributes.
type element struct {
	name  string
	attrs map[string]string
}

// parse checks that s is well-formed XML with an <svg> root and returns its
// elements in document order.
func parse(t *testing.T, s string) []element {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	var out []element
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed SVG: %v\n%s", err, s)
		}
		if se, ok := tok.(xml.StartElement); ok {
			e := element{name: se.Name.Local, attrs: map[string]string{}}
			for _, a := range se.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			out = append(out, e)
		}
	}
	if len(out) == 0 || out[0].name != "svg" {
		t.Fatalf("root element is not svg:\n%s", s)
	}
	return out
}

func byClass(els []element, name, class string) []element {
	var out []element
	for _, e := range els {
		if e.name == name && e.attrs["class"] == class {
			out = append(out, e)
		}
	}
	return out
}

func TestLimits(t *testing.T) {
	// lo = -100, hi = 200 → x(v) = 150 + 400*(v+100)/300
	bars := []Bar{
		{Label: "leaf", Balance: 50, Min: -100, Max: 100},
		{Label: "acorn <&>", Balance: -90, Min: -100, Max: 200},
	}
	els := parse(t, Limits(bars, nil))
	got := byClass(els, "rect", "balance")
	if len(got) != 2 {
		t.Fatalf("balance bars: got %d, want 2", len(got))
	}
	tests := []struct {
		name           string
		x, width, fill string
	}{
		{"leaf: zero to 50, blue", "283.3", "66.7", "#2563eb"},
		{"acorn: -90 to zero, red near its lower limit", "163.3", "120", "#dc2626"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := got[i].attrs
			if a["x"] != tt.x || a["width"] != tt.width || a["fill"] != tt.fill {
				t.Errorf("bar %d: got x=%s width=%s fill=%s, want x=%s width=%s fill=%s",
					i, a["x"], a["width"], a["fill"], tt.x, tt.width, tt.fill)
			}
		})
	}
	tracks := byClass(els, "rect", "track")
	if len(tracks) != 2 || tracks[0].attrs["x"] != "150" || tracks[0].attrs["width"] != "266.7" ||
		tracks[1].attrs["x"] != "150" || tracks[1].attrs["width"] != "400" {
		t.Errorf("tracks: got %v, want x=150 width=266.7 and x=150 width=400", tracks)
	}
	zero := byClass(els, "line", "zero")
	if len(zero) != 1 || zero[0].attrs["x1"] != "283.3" {
		t.Errorf("zero line: got %v, want one at x=283.3", zero)
	}
	if s := Limits(bars, nil); !strings.Contains(s, "acorn &lt;&amp;&gt;") {
		t.Errorf("label not escaped:\n%s", s)
	}
}

func TestLimitsFormatAndEmpty(t *testing.T) {
	f := func(v int64) string { return fmt.Sprintf("%d.00 LEAF", v) }
	s := Limits([]Bar{{Label: "a", Balance: 4, Min: -5, Max: 5}}, f)
	if !strings.Contains(s, ">4.00 LEAF</text>") {
		t.Errorf("format not used for the value:\n%s", s)
	}
	els := parse(t, Limits(nil, nil))
	if n := len(byClass(els, "rect", "balance")); n != 0 {
		t.Errorf("empty chart: got %d bars, want 0", n)
	}
	if n := len(byClass(els, "text", "empty")); n != 1 {
		t.Errorf("empty chart: got %d 'nothing to show' texts, want 1", n)
	}
}

func TestBarNear(t *testing.T) {
	tests := []struct {
		name string
		bar  Bar
		want bool
	}{
		{"middle", Bar{Balance: 0, Min: -100, Max: 100}, false},
		{"just above the lower tenth", Bar{Balance: -80, Min: -100, Max: 100}, false},
		{"inside the lower tenth", Bar{Balance: -81, Min: -100, Max: 100}, true},
		{"inside the upper tenth", Bar{Balance: 81, Min: -100, Max: 100}, true},
		{"no room at all", Bar{Balance: 0, Min: 0, Max: 0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.bar.Near(); got != tt.want {
				t.Errorf("Near() of %+v: got %v, want %v", tt.bar, got, tt.want)
			}
		})
	}
}

func TestTimeSeries(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	series := []Series{
		{Name: "leaf", Points: []Point{{t0, 0}, {t0.Add(time.Hour), 100}, {t0.Add(2 * time.Hour), -100}}},
		{Name: "acorn", Points: []Point{{t0.Add(time.Hour), 50}}},
		{Name: "empty"},
	}
	els := parse(t, TimeSeries(series, nil))
	lines := byClass(els, "polyline", "series")
	if len(lines) != 2 {
		t.Fatalf("lines: got %d, want 2 (the empty series draws nothing)", len(lines))
	}
	// x: 80..624 over two hours → 80, 352, 624; y: 196 (at -100) .. 16 (at 100) → 0 at 106
	want := "80,106 352,106 352,16 624,16 624,196"
	if got := lines[0].attrs["points"]; got != want {
		t.Errorf("leaf points: got %q, want %q", got, want)
	}
	if got := lines[1].attrs["points"]; got != "352,61" {
		t.Errorf("acorn points: got %q, want %q", got, "352,61")
	}
	if got := byClass(els, "line", "zero"); len(got) != 1 || got[0].attrs["y1"] != "106" {
		t.Errorf("zero line: got %v, want one at y=106", got)
	}
	if n := len(byClass(els, "rect", "legend")); n != 2 {
		t.Errorf("legend entries: got %d, want 2 (none for the empty series)", n)
	}
	if n := len(byClass(parse(t, TimeSeries(nil, nil)), "text", "empty")); n != 1 {
		t.Errorf("empty chart: got %d 'nothing to show' texts, want 1", n)
	}
}

func TestHeatMap(t *testing.T) {
	m := Matrix{
		Labels: []string{"leaf", "acorn", "oak"},
		Cells: [][]int64{
			{0, 400, 100},
			{200, 0, 0},
			{0, -5}, // short row, negative cell: drawn as zero
		},
	}
	els := parse(t, HeatMap(m, nil))
	cells := byClass(els, "g", "cell")
	if len(cells) != 9 {
		t.Fatalf("cells: got %d, want 9", len(cells))
	}
	var fills []string
	for i, e := range els {
		if e.name == "g" && e.attrs["class"] == "cell" {
			fills = append(fills, els[i+2].attrs["fill"]) // g, title, rect
		}
	}
	want := []string{"#ffffff", "#1e40af", "#c7cfeb", "#8fa0d7", "#ffffff", "#ffffff", "#ffffff", "#ffffff", "#ffffff"}
	for i := range want {
		if fills[i] != want[i] {
			t.Errorf("cell %d fill: got %s, want %s", i, fills[i], want[i])
		}
	}
	if n := len(byClass(parse(t, HeatMap(Matrix{}, nil)), "text", "empty")); n != 1 {
		t.Errorf("empty matrix: got %d 'nothing to show' texts, want 1", n)
	}
}

func TestShade(t *testing.T) {
	tests := []struct {
		v, top int64
		want   float64
	}{
		{0, 100, 0}, {50, 100, 0.5}, {100, 100, 1}, {200, 100, 1}, {-1, 100, 0}, {5, 0, 0},
	}
	for _, tt := range tests {
		if got := Shade(tt.v, tt.top); got != tt.want {
			t.Errorf("Shade(%d, %d): got %v, want %v", tt.v, tt.top, got, tt.want)
		}
	}
}
