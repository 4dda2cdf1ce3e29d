package console

import (
	"slices"
	"strconv"
	"time"
)

// The overview's charts are SVG drawn on the server: no script, no
// library, nothing the Content-Security-Policy would have to allow.

// minuteCounts is one minute of GET /api/v1/admin/overview's per_minute.
type minuteCounts struct {
	Minute     time.Time      `json:"minute"`
	ByStatus   map[string]int `json:"by_status"`
	ByProvider map[string]int `json:"by_provider"`
}

// chart is a stacked bar chart, one bar per minute.
type chart struct {
	ID            string
	Title         string
	Width, Height int
	// PlotTop and PlotBottom bound the bars vertically; labels go below.
	PlotTop, PlotBottom int
	Bars                []bar
	Legend              []legendItem
	// Max is the tallest bar's total, the top of the scale.
	Max   int
	Total int
	// Labels are the time labels under some bars.
	Labels []axisLabel
}

type bar struct {
	X, W  float64
	Total int
	Title string
	Segs  []seg
}

type seg struct {
	Y, H  float64
	Color string
	Title string
}

type legendItem struct {
	Name  string
	Color string
	Count int
}

type axisLabel struct {
	X    float64
	Text string
}

// statusColors keep a status the same colour on every page; finals that
// failed are reds, those still moving blues and greys.
var statusColors = map[string]string{
	"queued": "#9aa5b8", "pending": "#e0a030", "sent": "#4a7fd6", "delivered": "#2e9e5b",
	"failed": "#c0392b", "expired": "#8e44ad", "rejected": "#a93226", "undeliverable": "#7b241c", "unknown": "#5d6d7e",
}

var statusOrder = []string{"delivered", "sent", "pending", "queued", "unknown", "expired", "undeliverable", "rejected", "failed"}

var palette = []string{"#4a7fd6", "#2e9e5b", "#e0a030", "#8e44ad", "#c0392b", "#16a085", "#d35400", "#2c3e50", "#7f8c8d", "#b7950b"}

const (
	chartWidth  = 960
	chartHeight = 220
	plotTop     = 10
	plotBottom  = 190
)

// newChart draws one bar per minute, stacked by the keys pick returns;
// colors names a key's colour (others take the palette's in turn), order
// the keys listed first.
func newChart(id, title string, minutes []minuteCounts, pick func(minuteCounts) map[string]int, colors map[string]string, order []string) chart {
	c := chart{ID: id, Title: title, Width: chartWidth, Height: chartHeight, PlotTop: plotTop, PlotBottom: plotBottom}
	totals := map[string]int{}
	for _, m := range minutes {
		n := 0
		for k, v := range pick(m) {
			totals[k] += v
			n += v
		}
		c.Max = max(c.Max, n)
		c.Total += n
	}
	keys := legendKeys(totals, order)
	color := map[string]string{}
	for i, k := range keys {
		color[k] = colors[k]
		if color[k] == "" {
			color[k] = palette[i%len(palette)]
		}
		c.Legend = append(c.Legend, legendItem{Name: k, Color: color[k], Count: totals[k]})
	}
	if len(minutes) == 0 {
		return c
	}
	step := float64(chartWidth) / float64(len(minutes))
	scale := 0.0
	if c.Max > 0 {
		scale = float64(plotBottom-plotTop) / float64(c.Max)
	}
	every := max(1, len(minutes)/6)
	for i, m := range minutes {
		b := bar{X: float64(i)*step + 1, W: max(step-2, 1), Title: m.Minute.UTC().Format("15:04")}
		y := float64(plotBottom)
		counts := pick(m)
		for _, k := range keys {
			n := counts[k]
			if n == 0 {
				continue
			}
			h := float64(n) * scale
			y -= h
			b.Segs = append(b.Segs, seg{Y: y, H: h, Color: color[k], Title: b.Title + " " + k + ": " + strconv.Itoa(n)})
			b.Total += n
		}
		c.Bars = append(c.Bars, b)
		if i%every == 0 {
			c.Labels = append(c.Labels, axisLabel{X: b.X, Text: b.Title})
		}
	}
	return c
}

// legendKeys are the keys with messages, those in order first, then the
// rest by name.
func legendKeys(totals map[string]int, order []string) []string {
	var keys []string
	for _, k := range order {
		if totals[k] > 0 {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k, n := range totals {
		if n > 0 && !slices.Contains(order, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}
