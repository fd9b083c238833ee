package nixtree

import "errors"

// ErrNoRecord is returned for a store path the Nix tree holds no record of.
var ErrNoRecord = errors.New("no record in the Nix tree")
