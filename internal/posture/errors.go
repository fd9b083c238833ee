package posture

import "errors"

// errNoScore is a systemd-analyze run whose output holds no overall
// exposure level.
var errNoScore = errors.New("no overall exposure level in the output")

// ErrProfile is a profile file that does not parse or names an unknown
// profile.
var ErrProfile = errors.New("bad posture profile")
