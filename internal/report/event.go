package report

import "vigil/alerts"

// Event reports ev: as JSON, with the phase's severity, or as the text
// line line (a newline is added).
func (w *Writer) Event(ev alerts.Event, line string) error {
	if w.enc != nil {
		ev.SetPhase(w.opts.Phase)
		return w.enc.Encode(ev)
	}
	w.buf = append(append(w.buf[:0], line...), '\n')
	return w.writeLine()
}
