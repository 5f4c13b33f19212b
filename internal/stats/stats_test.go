package stats

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// TestHistoryRates: rates are the rises between consecutive samples per
// second, oldest first; the ring keeps the newest samples; a sample not
// later than the last is dropped.
func TestHistoryRates(t *testing.T) {
	tests := []struct {
		name    string
		keep    int
		samples []Counts
		times   []float64
		want    []Rate
	}{
		{"none", 3, nil, nil, nil},
		{"one sample has no rate", 3, []Counts{{Hits: 5}}, []float64{0}, nil},
		{"rates per second", 3, []Counts{{Hits: 0, Misses: 0}, {Hits: 10, Misses: 4}, {Hits: 16, Misses: 4}}, []float64{0, 2, 4},
			[]Rate{{At: at(2), Hits: 5, Misses: 2}, {At: at(4), Hits: 3, Misses: 0}}},
		{"the ring keeps the newest", 3, []Counts{{Hits: 0}, {Hits: 100}, {Hits: 102}, {Hits: 106}}, []float64{0, 1, 2, 3},
			[]Rate{{At: at(2), Hits: 2}, {At: at(3), Hits: 4}}},
		{"a sample out of order is dropped", 3, []Counts{{Hits: 0}, {Hits: 10}, {Hits: 99}}, []float64{0, 1, 1},
			[]Rate{{At: at(1), Hits: 10}}},
		{"a counter going back is no negative rate", 3, []Counts{{Hits: 10}, {Hits: 4}}, []float64{0, 1},
			[]Rate{{At: at(1), Hits: 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistory(tt.keep)
			for i, c := range tt.samples {
				h.Record(at(tt.times[i]), c)
			}
			if diff := cmp.Diff(tt.want, h.Rates()); diff != "" {
				t.Errorf("Rates (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNewChart: points span the window from the left edge (window ago) to
// the right (the newest rate), 0/s at the bottom and the scale's top at
// the top; older rates are left out; the grid has round steps.
func TestNewChart(t *testing.T) {
	rates := []Rate{
		{At: at(0), Hits: 99, Misses: 99}, // older than the window
		{At: at(10), Hits: 0, Misses: 20},
		{At: at(15), Hits: 40, Misses: 10},
		{At: at(20), Hits: 20, Misses: 0},
	}
	got := NewChart(rates, 10*time.Second, 100, 118)
	want := Chart{
		Width: 100, Height: 118, Window: 10 * time.Second, Points: 3,
		// Plot height 100 under chartTop; the scale's top is 40/s.
		Hits:   "0,118 50,18 100,68",
		Misses: "0,68 50,93 100,118",
		Grid:   []GridLine{{118, "0/s"}, {93, "10/s"}, {68, "20/s"}, {43, "30/s"}, {18, "40/s"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewChart (-want +got):\n%s", diff)
	}
	empty := NewChart(nil, time.Minute, 100, 118)
	if empty.Points != 0 || empty.Hits != "" || len(empty.Grid) != 5 || empty.Grid[4].Label != "4/s" {
		t.Errorf("NewChart of no rates = %+v, want no points and a 0–4/s grid", empty)
	}
	small := NewChart([]Rate{{At: at(1), Hits: 0.3}}, time.Minute, 100, 118)
	var labels []string
	for _, g := range small.Grid {
		labels = append(labels, g.Label)
	}
	if diff := cmp.Diff([]string{"0.0/s", "0.1/s", "0.2/s", "0.3/s"}, labels); diff != "" {
		t.Errorf("grid labels of a 0.3/s peak (-want +got):\n%s", diff)
	}
}

func TestNiceScale(t *testing.T) {
	tests := []struct{ peak, top, step float64 }{
		{0, 4, 1},
		{0.3, 0.3, 0.1},
		{7, 8, 2},
		{40, 40, 10},
		{41, 60, 20},
		{1234, 1500, 500},
	}
	for _, tt := range tests {
		top, step := niceScale(tt.peak)
		if diff := cmp.Diff([2]float64{tt.top, tt.step}, [2]float64{top, step}, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
			t.Errorf("niceScale(%v) (-want +got):\n%s", tt.peak, diff)
		}
	}
}

func TestCounts(t *testing.T) {
	a := Counts{Hits: 3, Misses: 1, Sets: 1, Deletes: 2, Errors: 1}
	if diff := cmp.Diff(Counts{Hits: 6, Misses: 2, Sets: 2, Deletes: 4, Errors: 2}, a.Add(a)); diff != "" {
		t.Errorf("Add (-want +got):\n%s", diff)
	}
	if got := a.HitRatio(); got != 0.75 {
		t.Errorf("HitRatio = %v, want 0.75", got)
	}
	if got := (Counts{}).HitRatio(); got != 0 {
		t.Errorf("HitRatio of nothing = %v, want 0", got)
	}
}
