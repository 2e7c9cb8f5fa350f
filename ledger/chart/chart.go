// Package chart draws the admin pages' charts as SVG: balances against
// their limits (a bar per account), balances over time, and a heat map of a
// trade matrix. Every function is a pure function of its values: no I/O, no
// JavaScript, nothing fetched, so the pages work offline and on a phone.
//
// It lives under ledger because both servers may import ledger and nothing
// else in common (cmd → server, clearing → ledger; server → clearing/cxp),
// and what it draws are ledger amounts: integer minor units and limits.
// The ledger package itself does not import it.
//
// Amounts are int64 minor units; only pixel coordinates are floats. Labels
// are escaped, so any text may be passed.
package chart

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// Format writes an amount of minor units for a label, e.g. "-12.50".
// Nil writes the integer.
type Format func(minor int64) string

func (f Format) text(v int64) string {
	if f == nil {
		return fmt.Sprint(v)
	}
	return f(v)
}

// Bar is one account's balance against its limits.
type Bar struct {
	Label   string
	Balance int64
	Min     int64 // lower limit (usually <= 0)
	Max     int64 // upper limit (usually >= 0)
}

// Near reports whether the balance is within a tenth of the span between
// the limits from either limit: such a bar is drawn in the warning colour.
func (b Bar) Near() bool {
	span := b.Max - b.Min
	if span <= 0 {
		return true
	}
	return (b.Balance-b.Min)*10 < span || (b.Max-b.Balance)*10 < span
}

// Geometry of the limits chart, in SVG user units.
const (
	barsWidth   = 640
	barsLabelW  = 150 // the label column
	barsValueW  = 90  // the value column on the right
	barsRowH    = 30
	barsBarH    = 14
	barsTopPad  = 24 // room for the scale line
	barsPlotX0  = barsLabelW
	barsPlotX1  = barsWidth - barsValueW
	barsPlotLen = barsPlotX1 - barsPlotX0
)

// Limits draws a horizontal bar per account: a light track from its lower
// to its upper limit, a bar from zero to its balance (red when it is near
// a limit), and a common zero line. All rows share one scale, so accounts
// can be compared.
func Limits(bars []Bar, f Format) string {
	var b strings.Builder
	height := barsTopPad + barsRowH*max(len(bars), 1) + 6
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart limits" viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx" role="img" aria-label="balances against limits">`, barsWidth, height, barsWidth)
	if len(bars) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="empty">nothing to show</text></svg>`, barsPlotX0, barsTopPad+barsRowH/2)
		return b.String()
	}
	lo, hi := int64(0), int64(0)
	for _, r := range bars {
		lo = min(lo, r.Min, r.Balance)
		hi = max(hi, r.Max, r.Balance)
	}
	x := linear(lo, hi, barsPlotX0, barsPlotX1)
	zero := x(0)
	fmt.Fprintf(&b, `<text x="%s" y="14" class="scale" text-anchor="start">%s</text>`, num(x(lo)), esc(f.text(lo)))
	fmt.Fprintf(&b, `<text x="%s" y="14" class="scale" text-anchor="end">%s</text>`, num(x(hi)), esc(f.text(hi)))
	for i, r := range bars {
		y := float64(barsTopPad + i*barsRowH)
		mid := y + barsRowH/2
		fmt.Fprintf(&b, `<g class="row"><title>%s: %s (limits %s to %s)</title>`,
			esc(r.Label), esc(f.text(r.Balance)), esc(f.text(r.Min)), esc(f.text(r.Max)))
		fmt.Fprintf(&b, `<text x="%d" y="%s" class="label" text-anchor="end" dominant-baseline="middle">%s</text>`, barsLabelW-8, num(mid), esc(clip(r.Label, 20)))
		fmt.Fprintf(&b, `<rect class="track" x="%s" y="%s" width="%s" height="%d" fill="#e5e7eb"/>`,
			num(x(r.Min)), num(mid-barsBarH/2-3), num(x(r.Max)-x(r.Min)), barsBarH+6)
		left, right := x(min(0, r.Balance)), x(max(0, r.Balance))
		fill := "#2563eb"
		if r.Near() {
			fill = "#dc2626"
		}
		fmt.Fprintf(&b, `<rect class="balance" x="%s" y="%s" width="%s" height="%d" fill="%s"/>`,
			num(left), num(mid-barsBarH/2), num(right-left), barsBarH, fill)
		fmt.Fprintf(&b, `<text x="%d" y="%s" class="value" text-anchor="end" dominant-baseline="middle">%s</text></g>`,
			barsWidth-4, num(mid), esc(f.text(r.Balance)))
	}
	fmt.Fprintf(&b, `<line class="zero" x1="%s" y1="%d" x2="%s" y2="%d" stroke="#111827"/>`, num(zero), barsTopPad-4, num(zero), height-4)
	b.WriteString(`<style>svg.limits text{font:15px sans-serif}</style></svg>`)
	return b.String()
}

// Point is one value of a series at a time.
type Point struct {
	Time  time.Time
	Value int64
}

// Series is a named line of points, oldest first.
type Series struct {
	Name   string
	Points []Point
}

// Geometry of the time chart.
const (
	timeWidth  = 640
	timeHeight = 240
	timeLeft   = 80 // room for the value labels
	timeRight  = 16
	timeTop    = 16
	timeBottom = 44 // room for the date labels and the legend
)

// palette colours the series in order, then repeats.
var palette = []string{"#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#ca8a04"}

// TimeSeries draws each series as a step line (a balance holds its value
// until the next change) on a shared time axis and value axis that always
// includes zero, with a zero line and a legend.
func TimeSeries(series []Series, f Format) string {
	var b strings.Builder
	rows := max((len(series)+3)/4, 1) // legend rows of four
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart timeseries" viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx" role="img" aria-label="balances over time">`, timeWidth, timeHeight+16*(rows-1), timeWidth)
	var t0, t1 time.Time
	lo, hi := int64(0), int64(0)
	n := 0
	for _, s := range series {
		for _, p := range s.Points {
			if n == 0 || p.Time.Before(t0) {
				t0 = p.Time
			}
			if n == 0 || p.Time.After(t1) {
				t1 = p.Time
			}
			lo, hi = min(lo, p.Value), max(hi, p.Value)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="empty">nothing to show</text></svg>`, timeLeft, timeHeight/2)
		return b.String()
	}
	if !t1.After(t0) {
		t1 = t0.Add(time.Second)
	}
	x0, x1 := float64(timeLeft), float64(timeWidth-timeRight)
	yBottom, yTop := float64(timeHeight-timeBottom), float64(timeTop)
	x := func(t time.Time) float64 {
		return x0 + (x1-x0)*float64(t.Sub(t0))/float64(t1.Sub(t0))
	}
	y := linear(lo, hi, yBottom, yTop)
	fmt.Fprintf(&b, `<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#9ca3af"/>`, num(x0), num(yTop), num(x0), num(yBottom))
	fmt.Fprintf(&b, `<line class="zero" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#111827"/>`, num(x0), num(y(0)), num(x1), num(y(0)))
	fmt.Fprintf(&b, `<text x="%d" y="%s" class="tick" text-anchor="end" dominant-baseline="middle">%s</text>`, timeLeft-4, num(y(hi)), esc(f.text(hi)))
	if lo != hi {
		fmt.Fprintf(&b, `<text x="%d" y="%s" class="tick" text-anchor="end" dominant-baseline="middle">%s</text>`, timeLeft-4, num(y(lo)), esc(f.text(lo)))
	}
	if lo != 0 && hi != 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%s" class="tick" text-anchor="end" dominant-baseline="middle">%s</text>`, timeLeft-4, num(y(0)), esc(f.text(0)))
	}
	fmt.Fprintf(&b, `<text x="%s" y="%d" class="tick" text-anchor="start">%s</text>`, num(x0), timeHeight-timeBottom+14, esc(stamp(t0, t1.Sub(t0))))
	fmt.Fprintf(&b, `<text x="%s" y="%d" class="tick" text-anchor="end">%s</text>`, num(x1), timeHeight-timeBottom+14, esc(stamp(t1, t1.Sub(t0))))
	for i, s := range series {
		if len(s.Points) == 0 {
			continue
		}
		colour := palette[i%len(palette)]
		var pts []string
		for j, p := range s.Points {
			if j > 0 { // hold the previous value until this point's time
				pts = append(pts, num(x(p.Time))+","+num(y(s.Points[j-1].Value)))
			}
			pts = append(pts, num(x(p.Time))+","+num(y(p.Value)))
		}
		fmt.Fprintf(&b, `<polyline class="series" data-name="%s" fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`,
			esc(s.Name), colour, strings.Join(pts, " "), esc(s.Name))
		lx := timeLeft + (i%4)*140
		ly := timeHeight - 10 + (i/4)*16
		fmt.Fprintf(&b, `<rect class="legend" x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" class="legend">%s</text>`,
			lx, ly-9, colour, lx+14, ly, esc(clip(s.Name, 18)))
	}
	b.WriteString(`<style>svg.timeseries text{font:12px sans-serif}</style></svg>`)
	return b.String()
}

// Matrix is a square table of amounts: Cells[i][j] is what row Labels[i]
// paid to column Labels[j].
type Matrix struct {
	Labels []string
	Cells  [][]int64
}

// Geometry of the heat map.
const (
	heatLabelW = 110
	heatHeadH  = 90
	heatCell   = 64
	heatCellH  = 30
)

// HeatMap draws the matrix as a grid whose cells are shaded by their share
// of the largest cell (white for zero, deep blue for the largest), each
// with its amount written in it. Rows pay, columns receive. Negative cells
// are drawn as zero.
func HeatMap(m Matrix, f Format) string {
	n := len(m.Labels)
	w := heatLabelW + heatCell*max(n, 1) + 4
	h := heatHeadH + heatCellH*max(n, 1) + 4
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart heatmap" viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx" role="img" aria-label="trade matrix: rows paid columns">`, w, h, w)
	if n == 0 {
		fmt.Fprintf(&b, `<text x="4" y="%d" class="empty">nothing to show</text></svg>`, heatHeadH)
		return b.String()
	}
	var top int64
	for i := range n {
		for j := range n {
			top = max(top, cell(m, i, j))
		}
	}
	for j, l := range m.Labels {
		cx := heatLabelW + j*heatCell + heatCell/2
		fmt.Fprintf(&b, `<text class="col" x="%d" y="%d" transform="rotate(-45 %d %d)">%s</text>`, cx, heatHeadH-6, cx, heatHeadH-6, esc(clip(l, 14)))
	}
	for i, l := range m.Labels {
		y := heatHeadH + i*heatCellH
		fmt.Fprintf(&b, `<text class="row" x="%d" y="%d" text-anchor="end" dominant-baseline="middle">%s</text>`, heatLabelW-6, y+heatCellH/2, esc(clip(l, 16)))
		for j := range n {
			v := cell(m, i, j)
			x := heatLabelW + j*heatCell
			shade := Shade(v, top)
			ink := "#111827"
			if shade > 0.55 {
				ink = "#ffffff"
			}
			fmt.Fprintf(&b, `<g class="cell" data-row="%d" data-col="%d"><title>%s → %s: %s</title>`, i, j, esc(l), esc(m.Labels[j]), esc(f.text(v)))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="#d1d5db"/>`, x, y, heatCell, heatCellH, blue(shade))
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" dominant-baseline="middle" fill="%s">%s</text></g>`, x+heatCell/2, y+heatCellH/2, ink, esc(f.text(v)))
		}
	}
	b.WriteString(`<style>svg.heatmap text{font:12px sans-serif}</style></svg>`)
	return b.String()
}

// Shade is v's share of top, between 0 and 1; 0 when top is not positive.
func Shade(v, top int64) float64 {
	if top <= 0 || v <= 0 {
		return 0
	}
	return math.Min(1, float64(v)/float64(top))
}

func cell(m Matrix, i, j int) int64 {
	if i < len(m.Cells) && j < len(m.Cells[i]) && m.Cells[i][j] > 0 {
		return m.Cells[i][j]
	}
	return 0
}

// blue mixes white (0) into #1e40af (1).
func blue(s float64) string {
	mix := func(to int) int { return int(math.Round(255 + (float64(to)-255)*s)) }
	return fmt.Sprintf("#%02x%02x%02x", mix(0x1e), mix(0x40), mix(0xaf))
}

// linear maps [lo, hi] onto [p0, p1]; a flat domain maps everything to p0.
func linear(lo, hi int64, p0, p1 float64) func(int64) float64 {
	if hi == lo {
		return func(int64) float64 { return p0 }
	}
	return func(v int64) float64 {
		return p0 + (p1-p0)*(float64(v)-float64(lo))/(float64(hi)-float64(lo))
	}
}

// num writes a coordinate with at most one decimal.
func num(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	return strings.TrimSuffix(s, ".0")
}

func esc(s string) string { return html.EscapeString(s) }

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// stamp writes a time axis label, with seconds when the axis spans less than an hour.
func stamp(t time.Time, span time.Duration) string {
	if span < time.Hour {
		return t.UTC().Format("2006-01-02 15:04:05")
	}
	return t.UTC().Format("2006-01-02 15:04")
}
