package report

import (
	"encoding/json"
	"io"
	"time"

	"vigil/alerts"
	"vigil/internal/textdiff"
	"vigil/merkle"
)

// Options configure a [Writer]. The zero value writes plain human-readable
// text.
type Options struct {
	// JSON writes one alerts.Event per line instead of text.
	JSON bool
	// Color colours human-readable lines with ANSI escape sequences.
	Color bool
	// Verbose adds, below each changed entry's line, its changed
	// attributes with their old and new values, and the diff of a kept
	// file's content.
	Verbose bool
	// Diffs adds the diffs of kept content below the lines without the
	// rest of Verbose (update shows them).
	Diffs bool
	// Host is the host.name of JSON events; empty leaves it out.
	Host string
	// Phase is the host's security phase, recorded in every JSON event with
	// the severity it implies; empty leaves both out.
	Phase string
	// Now returns the time events are stamped with; nil means time.Now.
	Now func() time.Time
}

// Writer writes a report to an io.Writer, one Write call per line (or per
// summary). It is not safe for concurrent use.
type Writer struct {
	w     io.Writer
	opts  Options
	enc   *json.Encoder
	lines int // change and error lines written
	buf   []byte
}

// New returns a Writer writing to w.
func New(w io.Writer, opts Options) *Writer {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rw := &Writer{w: w, opts: opts}
	if opts.JSON {
		rw.enc = json.NewEncoder(w)
		rw.enc.SetEscapeHTML(false)
	}
	return rw
}

// Change reports c.
func (w *Writer) Change(c merkle.Change) error {
	if w.enc != nil {
		ev := alerts.FromChange(c, w.opts.Host, w.opts.Now())
		ev.SetPhase(w.opts.Phase)
		return w.enc.Encode(ev)
	}
	w.buf = appendChange(w.buf[:0], c, w.opts.Color)
	if w.opts.Verbose {
		w.buf = appendDetails(w.buf, c)
	}
	return w.writeLine()
}

// ChangeDiff reports c with d, the diff of its kept content: vigil.diff
// in JSON, the diff itself below the line with Verbose or Diffs.
func (w *Writer) ChangeDiff(c merkle.Change, d *textdiff.Diff) error {
	if w.enc != nil {
		ev := alerts.FromChange(c, w.opts.Host, w.opts.Now())
		ev.SetDiff(d)
		ev.SetPhase(w.opts.Phase)
		return w.enc.Encode(ev)
	}
	w.buf = appendChange(w.buf[:0], c, w.opts.Color)
	if w.opts.Verbose {
		w.buf = appendDetails(w.buf, c)
	}
	if w.opts.Verbose || w.opts.Diffs {
		w.buf = appendDiff(w.buf, d, w.opts.Color)
	}
	return w.writeLine()
}

// Error reports that path could not be checked because of err.
func (w *Writer) Error(path string, err error) error {
	if w.enc != nil {
		ev := alerts.ScanError(path, err, w.opts.Host, w.opts.Now())
		ev.SetPhase(w.opts.Phase)
		return w.enc.Encode(ev)
	}
	w.buf = appendError(w.buf[:0], path, err, w.opts.Color)
	return w.writeLine()
}

// Summary reports the end of a run. In text mode it is separated from any
// lines before it by a blank line.
func (w *Writer) Summary(s alerts.Summary) error {
	if w.enc != nil {
		ev := alerts.SummaryEvent(s, w.opts.Host, w.opts.Now())
		ev.SetPhase(w.opts.Phase)
		return w.enc.Encode(ev)
	}
	w.buf = w.buf[:0]
	if w.lines > 0 {
		w.buf = append(w.buf, '\n')
	}
	w.buf = appendSummary(w.buf, s)
	_, err := w.w.Write(w.buf)
	return err
}

func (w *Writer) writeLine() error {
	w.lines++
	_, err := w.w.Write(w.buf)
	return err
}
