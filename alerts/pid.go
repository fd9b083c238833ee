package alerts

import "os"

var pid = os.Getpid()
