package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"

	"vigil/bench"
)

// writeResults prints the markdown report to stdout and, if dir is not
// empty, writes results.md, results.json and chart.svg into it.
func writeResults(res *bench.Results, dir string, stdout io.Writer) error {
	var md bytes.Buffer
	if err := bench.WriteMarkdown(&md, res); err != nil {
		return err
	}
	if _, err := stdout.Write(md.Bytes()); err != nil {
		return err
	}
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	var svg bytes.Buffer
	if err := bench.WriteSVG(&svg, res); err != nil {
		return err
	}
	return errors.Join(
		os.WriteFile(filepath.Join(dir, "results.md"), md.Bytes(), 0o644),
		os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644),
		os.WriteFile(filepath.Join(dir, "chart.svg"), svg.Bytes(), 0o644),
	)
}
