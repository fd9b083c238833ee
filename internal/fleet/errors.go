package fleet

import "errors"

var (
	// ErrNotEnrolled means a host's key is not in vigil_keys.
	ErrNotEnrolled = errors.New("host not enrolled")
	// ErrEnrolled means vigil fleet enroll was asked to replace a host's
	// enrolled key with another one.
	ErrEnrolled = errors.New("host enrolled with another key")
	// ErrState means a value in a bucket does not parse.
	ErrState = errors.New("malformed fleet state")
	// ErrConflict means a revision-checked write lost to another writer
	// too often.
	ErrConflict = errors.New("revision-checked write kept conflicting")
)
