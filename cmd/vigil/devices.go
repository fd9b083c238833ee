package main

import (
	"fmt"
	"strings"
	"time"

	"vigil/alerts"
	"vigil/internal/daemon"
	"vigil/internal/report"
	"vigil/store"
)

// reportDevices reports each Btrfs device under paths (none: the
// baseline's roots) whose error counters are not those recorded with the
// baseline, and returns check's exit code bits: 8 for any such device (its
// storage failed, or its counters were reset), 4 when they could not be
// read.
func (e *env) reportDevices(w *report.Writer, b store.Info, paths []string) (int, error) {
	devs, err := daemon.DeviceAlerts(b, paths)
	if err != nil {
		e.log.Error().Err(err).Msg("the Btrfs device error counters could not be read")
		return exitChanged, nil
	}
	code := 0
	for _, d := range devs {
		code |= exitTampered
		if err := w.Event(alerts.DeviceErrors(d, hostname(), time.Now()), deviceLine(d)); err != nil {
			return code, err
		}
	}
	return code, nil
}

// deviceLine is the text line of a device finding.
func deviceLine(d alerts.Device) string {
	what := "error counters rose"
	switch {
	case d.Missing:
		what = "device gone from the filesystem"
	case d.Reset:
		what = "error counters were reset"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "! device       %s (btrfs %s devid %d): %s", quote(d.Device), d.FSID, d.DevID, what)
	for _, c := range d.Changed {
		fmt.Fprintf(&b, "; %s %d -> %d", c, d.Recorded[c], d.Current[c])
	}
	return b.String()
}
