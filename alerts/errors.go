package alerts

import "errors"

// ErrRefused means a sink's destination answered but did not accept the
// event (a webhook's non-2xx status); it is retried.
var ErrRefused = errors.New("refused by the sink")

// ErrNoCommand means an exec sink has no command to run.
var ErrNoCommand = errors.New("exec sink: no command")
