package store

// Posture is the host's security posture recorded with a baseline (see
// internal/posture): its items, sorted by key, and the root of the
// posture tree they hash to, which the baseline's signed statement
// carries. The store keeps both as they were given; the engine recomputes
// the root from the items whenever it reads them.
type Posture struct {
	Root  RootHash      `json:"root"`
	Items []PostureItem `json:"items"`
}

// PostureItem is one posture entry: a key in the posture namespace
// ("sysctl:kernel.kptr_restrict") and its value.
type PostureItem struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}
