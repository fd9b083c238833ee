package bench

import (
	"slices"
	"time"
)

// Median returns the median of ds (the mean of the middle two for an even
// count), or 0 for none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return s[mid-1] + (s[mid]-s[mid-1])/2
}

// Comparison is the ratio of two tools' median times, with a target.
type Comparison struct {
	// Label says what is compared.
	Label string `json:"label"`
	// Num and Den are tool names: the ratio is median(Num) / median(Den).
	Num string `json:"num"`
	Den string `json:"den"`
	// Target is the ratio to reach; 0 means the row is for information.
	Target float64 `json:"target,omitempty"`
	// AtMost means the target is met when the ratio is at most Target;
	// otherwise it is met when the ratio is at least Target.
	AtMost bool `json:"at_most,omitempty"`
}

// Comparisons returns the comparisons vigil has targets for, and two for
// information.
func Comparisons() []Comparison {
	return []Comparison{
		{Label: "vigil init speed-up over aide --init", Num: AideInit, Den: VigilInit, Target: 8},
		{Label: "vigil init over the Go walk+hash floor", Num: VigilInit, Den: FloorTool, Target: 1.3, AtMost: true},
		{Label: "vigil check speed-up over aide --check", Num: AideCheck, Den: VigilCheck, Target: 30},
		{Label: "vigil check over find -printf", Num: VigilCheck, Den: Find, Target: 1.5, AtMost: true},
		{Label: "vigil check --full over vigil init", Num: VigilCheckFull, Den: VigilInit, Target: 1.2, AtMost: true},
		{Label: "vigil init over the b3sum pipeline", Num: VigilInit, Den: B3sum},
		{Label: "Go walk+hash floor over the b3sum pipeline", Num: FloorTool, Den: B3sum},
	}
}

// Ratio is a comparison worked out on one corpus.
type Ratio struct {
	Comparison
	Value float64 `json:"value"`
	// Met reports whether Value reaches a non-zero Target.
	Met bool `json:"met"`
}

// Ratios works out the comparisons whose two tools both appear in tools
// with a non-zero median, in the order of cmps.
func Ratios(tools []ToolResult, cmps []Comparison) []Ratio {
	median := make(map[string]time.Duration, len(tools))
	for _, t := range tools {
		median[t.Name] = t.Median
	}
	var out []Ratio
	for _, c := range cmps {
		num, den := median[c.Num], median[c.Den]
		if num <= 0 || den <= 0 {
			continue
		}
		r := Ratio{Comparison: c, Value: float64(num) / float64(den)}
		switch {
		case c.Target == 0:
		case c.AtMost:
			r.Met = r.Value <= c.Target
		default:
			r.Met = r.Value >= c.Target
		}
		out = append(out, r)
	}
	return out
}
