package report

import (
	"fmt"
	"html"
	"strings"
)

// SVG draws run's requests per second as a horizontal bar chart, one bar
// per result in the order they ran, each labeled with its rate and its
// ratio to the bare handler sending the same response; the three-header
// bare handler's rate is a dashed line.
func SVG(run *Run) string {
	const (
		labelW = 360 // the mode's name
		barW   = 420 // the longest bar
		valueW = 150 // rate and ratio
		rowH   = 22
		top    = 40
	)
	most := 1.0
	for _, r := range run.Results {
		most = max(most, r.RPS)
	}
	width := labelW + barW + valueW
	height := top + rowH*len(run.Results) + 30
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="#fff"/>` + "\n")
	p(`<text x="8" y="22" font-size="15" font-weight="bold">tasklist: requests per second (wrk -t%d -c%d, %s each), ratio to a bare Go handler sending the same response</text>`+"\n",
		run.Load.Threads, run.Load.Connections, run.Load.Duration)
	for i, r := range run.Results {
		y := top + i*rowH
		w := int(float64(barW) * r.RPS / most)
		p(`<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-8, y+15, html.EscapeString(label(r)))
		p(`<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", labelW, y+3, w, rowH-6, color(r))
		value := fmt.Sprintf("%.0f/s", r.RPS)
		if r.Ratio > 0 && r.Kind == App {
			value += fmt.Sprintf("  %.2f×", r.Ratio)
		}
		p(`<text x="%d" y="%d">%s</text>`+"\n", labelW+w+6, y+15, value)
	}
	if c := run.Ceiling(); c != nil && c.RPS > 0 {
		x := labelW + int(float64(barW)*c.RPS/most)
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444" stroke-dasharray="4 3"/>`+"\n", x, top, x, top+rowH*len(run.Results))
	}
	p(`<text x="8" y="%d" fill="#555">%s; %s</text>`+"\n", height-10,
		html.EscapeString(run.Started.UTC().Format("2006-01-02 15:04 MST")), html.EscapeString(run.Machine.CPU))
	p("</svg>\n")
	return b.String()
}

// label names a bar: the mode, and the database and size when they are
// not the usual SQLite and 100 tasks, the workload when mixed, and gzip
// when the reads asked for it.
func label(r Result) string {
	s := r.Name
	var extra []string
	if r.DB != "" && r.DB != "sqlite" {
		extra = append(extra, r.DB)
	}
	if r.Tasks != 0 && r.Tasks != 100 {
		extra = append(extra, fmt.Sprintf("%d tasks", r.Tasks))
	}
	if r.Workload != "" && r.Workload != "read" {
		extra = append(extra, r.Workload)
	}
	if r.Encoding == "gzip" {
		extra = append(extra, r.Encoding)
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

func color(r Result) string {
	switch {
	case r.Kind == Bare:
		return "#555"
	case r.Kind == Nginx:
		return "#888"
	case r.Cache == "memcached":
		return "#2a7ab8"
	case r.Cache == "in-process":
		return "#3a9d5d"
	}
	return "#c0504d"
}
