package stats

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Chart is the geometry of a line chart of hits and misses per second,
// ready for an SVG template: the lines as polyline points in a Width by
// Height view box, and the horizontal grid lines with their labels.
type Chart struct {
	Width, Height int
	// Hits and Misses are the lines' points: "x,y x,y ...". Empty when
	// there are no rates yet.
	Hits, Misses string
	// Grid are the horizontal lines, from the bottom (0/s) up.
	Grid []GridLine
	// Window is how much time the chart spans, ending at the newest rate.
	Window time.Duration
	// Points is the number of rates drawn.
	Points int
}

// GridLine is one horizontal line of a Chart, at Y, labelled Label.
type GridLine struct {
	Y     float64
	Label string
}

// chartTop leaves room above the highest grid line for its label.
const chartTop = 18

// NewChart lays out the rates of the last window (ending at the newest
// rate) in a width by height view box.
func NewChart(rates []Rate, window time.Duration, width, height int) Chart {
	c := Chart{Width: width, Height: height, Window: window}
	if len(rates) > 0 {
		end := rates[len(rates)-1].At
		for len(rates) > 0 && end.Sub(rates[0].At) > window {
			rates = rates[1:]
		}
	}
	peak := 0.0
	for _, r := range rates {
		peak = max(peak, r.Hits, r.Misses)
	}
	top, step := niceScale(peak)
	plot := float64(height - chartTop)
	y := func(v float64) float64 { return round1(float64(height) - v/top*plot) }
	decimals := max(0, int(-math.Floor(math.Log10(step))))
	for i := 0.0; i*step <= top+step/2; i++ {
		c.Grid = append(c.Grid, GridLine{Y: y(i * step), Label: strconv.FormatFloat(i*step, 'f', decimals, 64) + "/s"})
	}
	if len(rates) == 0 {
		return c
	}
	end := rates[len(rates)-1].At
	x := func(at time.Time) float64 {
		return round1(float64(width) * (1 - float64(end.Sub(at))/float64(window)))
	}
	var hits, misses strings.Builder
	for i, r := range rates {
		if i > 0 {
			hits.WriteByte(' ')
			misses.WriteByte(' ')
		}
		writePoint(&hits, x(r.At), y(r.Hits))
		writePoint(&misses, x(r.At), y(r.Misses))
	}
	c.Hits, c.Misses, c.Points = hits.String(), misses.String(), len(rates)
	return c
}

// niceScale returns the top of a scale that holds peak and the step of its
// grid lines: 1, 2 or 5 times a power of ten, four steps or so.
func niceScale(peak float64) (top, step float64) {
	if peak <= 0 {
		return 4, 1
	}
	raw := peak / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	return math.Ceil(peak/step) * step, step
}

func writePoint(b *strings.Builder, x, y float64) {
	b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
	b.WriteByte(',')
	b.WriteString(strconv.FormatFloat(y, 'f', -1, 64))
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
