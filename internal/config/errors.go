package config

import "errors"

// ErrInvalid is matched (with errors.Is) by every [Problem]: the
// configuration was read but is not acceptable. Errors from [Load] that are
// not ErrInvalid are I/O errors.
var ErrInvalid = errors.New("invalid configuration")
