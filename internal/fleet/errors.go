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
	// ErrNotInitialized means a bucket or stream of the fleet does not
	// exist: vigil fleet init has not been run.
	ErrNotInitialized = errors.New("the fleet's buckets do not exist (run 'vigil fleet init' first)")
	// ErrConflict means a revision-checked write lost to another writer
	// too often.
	ErrConflict = errors.New("revision-checked write kept conflicting")
	// ErrUnknownHost means a host has published nothing to the fleet.
	ErrUnknownHost = errors.New("no such host in the fleet")
)
