package bench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"none", nil, 0},
		{"one", []time.Duration{7}, 7},
		{"odd unsorted", []time.Duration{9, 1, 5}, 5},
		{"even is mean of middle two", []time.Duration{4, 1, 10, 2}, 3},
		{"even rounds down", []time.Duration{1, 2}, 1},
		{"repeated", []time.Duration{3, 3, 3, 8}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tt.in...)
			if got := Median(tt.in); got != tt.want {
				t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
			}
			if diff := cmp.Diff(in, tt.in); diff != "" {
				t.Errorf("Median changed its input (-before +after):\n%s", diff)
			}
		})
	}
}

func TestRatios(t *testing.T) {
	speedup := Comparison{Label: "s", Num: "slow", Den: "fast", Target: 8}
	within := Comparison{Label: "w", Num: "fast", Den: "floor", Target: 1.3, AtMost: true}
	info := Comparison{Label: "i", Num: "slow", Den: "floor"}
	tools := func(slow, fast, floor time.Duration) []ToolResult {
		return []ToolResult{{Name: "slow", Median: slow}, {Name: "fast", Median: fast}, {Name: "floor", Median: floor}}
	}
	tests := []struct {
		name  string
		tools []ToolResult
		cmps  []Comparison
		want  []Ratio
	}{
		{
			name:  "targets met",
			tools: tools(80, 10, 8),
			cmps:  []Comparison{speedup, within, info},
			want:  []Ratio{{speedup, 8, true}, {within, 1.25, true}, {info, 10, false}},
		},
		{
			name:  "targets missed",
			tools: tools(70, 10, 5),
			cmps:  []Comparison{speedup, within},
			want:  []Ratio{{speedup, 7, false}, {within, 2, false}},
		},
		{
			name:  "missing tool skips the row",
			tools: []ToolResult{{Name: "slow", Median: 9}, {Name: "fast", Median: 3}},
			cmps:  []Comparison{within, speedup},
			want:  []Ratio{{speedup, 3, false}},
		},
		{
			name:  "zero median skips the row",
			tools: tools(80, 0, 8),
			cmps:  []Comparison{speedup, info},
			want:  []Ratio{{info, 10, false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Ratios(tt.tools, tt.cmps)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Ratios() (-got +want):\n%s", diff)
			}
		})
	}
}

func TestComparisonsNameKnownTools(t *testing.T) {
	known := map[string]bool{}
	for _, n := range ToolNames() {
		known[n] = true
	}
	for _, c := range Comparisons() {
		if !known[c.Num] || !known[c.Den] {
			t.Errorf("comparison %q divides %q by %q; want names from ToolNames() %v", c.Label, c.Num, c.Den, ToolNames())
		}
	}
}

func TestSummarize(t *testing.T) {
	samples := []Sample{
		{Wall: 30, User: 5, Sys: 1, MaxRSS: 100},
		{Wall: 10, User: 9, Sys: 9, MaxRSS: 300},
		{Wall: 20, User: 7, Sys: 2, MaxRSS: 200},
	}
	got := summarize("x", []string{"x", "y"}, samples)
	want := ToolResult{Name: "x", Argv: []string{"x", "y"}, Samples: samples, Median: 20, Min: 10, Max: 30, CPU: 9, PeakRSS: 300}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("summarize() (-got +want):\n%s", diff)
	}
}
