package bench

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// svgElements parses an SVG document and returns the names of its elements
// in order, with the text of every <title> element.
func svgElements(t *testing.T, doc string) (names, titles []string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	inTitle := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return names, titles
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			names = append(names, tok.Name.Local)
			inTitle = tok.Name.Local == "title"
		case xml.CharData:
			if inTitle {
				titles = append(titles, string(tok))
			}
		case xml.EndElement:
			inTitle = false
		}
	}
}

func count(names []string, name string) int {
	n := 0
	for _, s := range names {
		if s == name {
			n++
		}
	}
	return n
}

func TestWriteSVG(t *testing.T) {
	r := fixedResults()
	// A second generated size, and a tool name that needs escaping.
	r.Corpora = append(r.Corpora, CorpusResult{
		Corpus: Corpus{Name: "files-20000", Generated: true, Files: 20000},
		Tools: []ToolResult{
			{Name: AideInit, Median: 30 * time.Second},
			{Name: VigilInit, Median: 3 * time.Second},
			{Name: "a<b&c", Median: time.Second},
		},
	})
	var b strings.Builder
	if err := WriteSVG(&b, r); err != nil {
		t.Fatalf("WriteSVG() = %v, want nil", err)
	}
	names, titles := svgElements(t, b.String())
	if names[0] != "svg" {
		t.Errorf("root element = %q, want svg", names[0])
	}
	// copy-usr is left out because generated corpora exist: 4 tools in all.
	want := []string{AideInit, VigilInit, Find, "a<b&c"}
	if diff := cmp.Diff(titles, want); diff != "" {
		t.Errorf("polyline titles (-got +want):\n%s", diff)
	}
	if got := count(names, "polyline"); got != len(want) {
		t.Errorf("%d polylines, want %d", got, len(want))
	}
	// One marker per point: aide and vigil have two, the others one.
	if got := count(names, "circle"); got != 6 {
		t.Errorf("%d circles, want 6", got)
	}
}

func TestWriteSVGUsesAllCorporaWhenNoneGenerated(t *testing.T) {
	r := &Results{Corpora: []CorpusResult{{
		Corpus: Corpus{Name: "copy-usr", Files: 100},
		Tools:  []ToolResult{{Name: Find, Median: time.Millisecond}, {Name: B3sum, Median: 0}},
	}}}
	var b strings.Builder
	if err := WriteSVG(&b, r); err != nil {
		t.Fatalf("WriteSVG() = %v, want nil", err)
	}
	names, titles := svgElements(t, b.String())
	if diff := cmp.Diff(titles, []string{Find}); diff != "" {
		t.Errorf("polyline titles (-got +want):\n%s", diff)
	}
	if got := count(names, "polyline"); got != 1 {
		t.Errorf("%d polylines, want 1", got)
	}
}

func TestWriteSVGEmpty(t *testing.T) {
	var b strings.Builder
	if err := WriteSVG(&b, &Results{}); err != nil {
		t.Fatalf("WriteSVG() = %v, want nil", err)
	}
	names, _ := svgElements(t, b.String())
	if got := count(names, "polyline"); got != 0 {
		t.Errorf("%d polylines for no results, want 0", got)
	}
}

func TestTickLabels(t *testing.T) {
	tests := []struct {
		tick          tick
		label, counts string
	}{
		{tick{1, 0}, "1", "1"},
		{tick{5, -2}, "0.05", "0.05"},
		{tick{2, -1}, "0.2", "0.2"},
		{tick{2, 4}, "20000", "20k"},
		{tick{1, 6}, "1000000", "1M"},
		{tick{5, 2}, "500", "500"},
	}
	for _, tt := range tests {
		if got := tt.tick.label(); got != tt.label {
			t.Errorf("%v.label() = %q, want %q", tt.tick, got, tt.label)
		}
		if got := tt.tick.countLabel(); got != tt.counts {
			t.Errorf("%v.countLabel() = %q, want %q", tt.tick, got, tt.counts)
		}
	}
}

func TestLogAxisTicks(t *testing.T) {
	tests := []struct {
		name string
		vs   []float64
		want []tick
	}{
		{"one decade", []float64{20000, 50000}, []tick{{1, 4}, {2, 4}, {5, 4}, {1, 5}}},
		{"exact decade widens", []float64{10}, []tick{{1, 1}, {2, 1}, {5, 1}, {1, 2}}},
		{"many decades", []float64{0.002, 30}, []tick{{1, -3}, {1, -2}, {1, -1}, {1, 0}, {1, 1}, {1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newLogAxis(tt.vs).ticks()
			if diff := cmp.Diff(got, tt.want, cmp.AllowUnexported(tick{})); diff != "" {
				t.Errorf("newLogAxis(%v).ticks() (-got +want):\n%s", tt.vs, diff)
			}
		})
	}
}
