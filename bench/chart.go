package bench

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 760, 480
	plotL, plotR   = 80, chartW - 190 // the legend sits right of the plot
	plotT, plotB   = 40, chartH - 60
)

// palette holds one colour per tool, in [ToolNames] order.
var palette = []string{"#1f77b4", "#2ca02c", "#17becf", "#d62728", "#ff7f0e", "#9467bd", "#7f7f7f", "#8c564b", "#e377c2"}

// series is one tool's median times against corpus sizes.
type series struct {
	name string
	pts  [][2]float64 // (files, seconds), by files
}

// WriteSVG draws, on log-log axes, median wall time against number of files:
// one polyline with a marker per point for every tool, with axis ticks and a
// legend. It uses the generated corpora of r, or all corpora if none was
// generated; corpora or medians of zero are left out.
func WriteSVG(w io.Writer, r *Results) error {
	ss := chartSeries(r)
	var xs, ys []float64
	for _, s := range ss {
		for _, p := range s.pts {
			xs, ys = append(xs, p[0]), append(ys, p[1])
		}
	}
	ax, ay := newLogAxis(xs), newLogAxis(ys)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15">median wall time against number of files</text>`+"\n", plotL)
	drawAxes(&b, ax, ay)
	for i, s := range ss {
		drawSeries(&b, s, i, ax, ay)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// chartSeries collects one series per tool, tools in order of appearance.
func chartSeries(r *Results) []series {
	generated := slices.ContainsFunc(r.Corpora, func(c CorpusResult) bool { return c.Corpus.Generated })
	var ss []series
	index := map[string]int{}
	for _, c := range r.Corpora {
		if (generated && !c.Corpus.Generated) || c.Corpus.Files <= 0 {
			continue
		}
		for _, t := range c.Tools {
			if t.Median <= 0 {
				continue
			}
			i, ok := index[t.Name]
			if !ok {
				i = len(ss)
				index[t.Name] = i
				ss = append(ss, series{name: t.Name})
			}
			ss[i].pts = append(ss[i].pts, [2]float64{float64(c.Corpus.Files), t.Median.Seconds()})
		}
	}
	for _, s := range ss {
		slices.SortFunc(s.pts, func(a, b [2]float64) int { return cmpFloat(a[0], b[0]) })
	}
	return ss
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// logAxis maps values to [0, 1] on a log scale spanning whole decades.
type logAxis struct{ lo, hi int }

func newLogAxis(vs []float64) logAxis {
	if len(vs) == 0 {
		return logAxis{0, 1}
	}
	a := logAxis{
		lo: int(math.Floor(math.Log10(slices.Min(vs)))),
		hi: int(math.Ceil(math.Log10(slices.Max(vs)))),
	}
	if a.hi == a.lo {
		a.hi++
	}
	return a
}

func (a logAxis) frac(v float64) float64 {
	return (math.Log10(v) - float64(a.lo)) / float64(a.hi-a.lo)
}

// tick is the axis value m * 10^exp.
type tick struct{ m, exp int }

func (t tick) value() float64 { return float64(t.m) * math.Pow(10, float64(t.exp)) }

// label writes the value in decimal without rounding noise: 0.05, 2, 300.
func (t tick) label() string {
	if t.exp >= 0 {
		return strconv.Itoa(t.m) + strings.Repeat("0", t.exp)
	}
	return "0." + strings.Repeat("0", -t.exp-1) + strconv.Itoa(t.m)
}

// ticks returns the decades, and 2 and 5 times them when the axis spans at
// most two decades.
func (a logAxis) ticks() []tick {
	var ts []tick
	for d := a.lo; d <= a.hi; d++ {
		ts = append(ts, tick{1, d})
		if a.hi-a.lo <= 2 && d < a.hi {
			ts = append(ts, tick{2, d}, tick{5, d})
		}
	}
	return ts
}

func px(a logAxis, v float64) float64 { return plotL + a.frac(v)*(plotR-plotL) }
func py(a logAxis, v float64) float64 { return plotB - a.frac(v)*(plotB-plotT) }

func drawAxes(b *strings.Builder, ax, ay logAxis) {
	for _, t := range ax.ticks() {
		x := px(ax, t.value())
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, plotT, x, plotB)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, plotB+18, t.countLabel())
	}
	for _, t := range ay.ticks() {
		y := py(ay, t.value())
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", plotL, y, plotR, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", plotL-6, y+4, t.label())
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>`+"\n", plotL, plotT, plotR-plotL, plotB-plotT)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">number of files (log)</text>`+"\n", (plotL+plotR)/2, chartH-20)
	fmt.Fprintf(b, `<text transform="translate(24 %d) rotate(-90)" text-anchor="middle">median wall time, s (log)</text>`+"\n", (plotT+plotB)/2)
}

func drawSeries(b *strings.Builder, s series, i int, ax, ay logAxis) {
	color := toolColor(s.name, i)
	pts := make([]string, len(s.pts))
	for j, p := range s.pts {
		pts[j] = fmt.Sprintf("%.1f,%.1f", px(ax, p[0]), py(ay, p[1]))
	}
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`+"\n",
		color, strings.Join(pts, " "), esc(s.name))
	for _, p := range s.pts {
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", px(ax, p[0]), py(ay, p[1]), color)
	}
	y := plotT + 10 + 20*i
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", plotR+16, y, plotR+40, y, color)
	fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", plotR+46, y+4, esc(s.name))
}

// toolColor returns a known tool's own colour, so that charts agree, and
// cycles through the palette for others.
func toolColor(name string, i int) string {
	if k := slices.Index(ToolNames(), name); k >= 0 {
		return palette[k%len(palette)]
	}
	return palette[i%len(palette)]
}

// countLabel writes counts short: 20k for 20000, 1M for 1000000.
func (t tick) countLabel() string {
	switch {
	case t.exp >= 6:
		return tick{t.m, t.exp - 6}.label() + "M"
	case t.exp >= 3:
		return tick{t.m, t.exp - 3}.label() + "k"
	}
	return t.label()
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails to write
	return b.String()
}
