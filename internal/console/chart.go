package console

import (
	"slices"
	"strconv"
	"time"
)

// chart is the fleet page's timeline: alerts and changes per day over the
// hosts shown, as bars the template draws in SVG (numbers only: nothing a
// host reports reaches the drawing as markup).
type chart struct {
	Width, Height int
	Bars          []bar
	Max           int
	First, Last   string
}

type bar struct {
	X, Y, W, H int
	Kind       string // alerts or changes
	Title      string
}

const (
	chartWidth  = 720
	chartHeight = 120
)

// timeline sums the hosts' days and lays out one pair of bars per day; nil
// when there is nothing to draw.
func timeline(hosts []HostSummary) *chart {
	sum := map[time.Time]*Day{}
	for _, h := range hosts {
		for _, d := range h.Days {
			k := d.Date.UTC().Truncate(24 * time.Hour)
			if sum[k] == nil {
				sum[k] = &Day{Date: k}
			}
			sum[k].Alerts += d.Alerts
			sum[k].Changes += d.Changes
		}
	}
	if len(sum) == 0 {
		return nil
	}
	days := make([]time.Time, 0, len(sum))
	for k := range sum {
		days = append(days, k)
	}
	slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
	top := 1
	for _, d := range sum {
		top = max(top, d.Alerts, d.Changes)
	}
	c := &chart{Width: chartWidth, Height: chartHeight, Max: top,
		First: days[0].Format(time.DateOnly), Last: days[len(days)-1].Format(time.DateOnly)}
	slot := chartWidth / len(days)
	w := max(slot/2-1, 1)
	for i, k := range days {
		d := sum[k]
		for j, v := range []struct {
			kind string
			n    int
		}{{"alerts", d.Alerts}, {"changes", d.Changes}} {
			h := v.n * (chartHeight - 10) / top
			c.Bars = append(c.Bars, bar{X: i*slot + j*(w+1), Y: chartHeight - h, W: w, H: h, Kind: v.kind,
				Title: k.Format(time.DateOnly) + ": " + strconv.Itoa(v.n) + " " + v.kind})
		}
	}
	return c
}
