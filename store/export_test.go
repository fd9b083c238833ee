package store

import "vigil/merkle"

// DecodeRecord exposes the record decoder to the external tests.
func DecodeRecord(path string, b []byte) (*merkle.Entry, merkle.Hash, error) {
	return decodeRecord(path, b)
}

// UsedPages exposes usedPages (crash_test.go) to the external tests.
var UsedPages = usedPages
