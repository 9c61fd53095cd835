package publock

import "time"

// pingTimeout bounds one liveness check of a lock's session.
const pingTimeout = 5 * time.Second

func newTicker() *time.Ticker { return time.NewTicker(10 * time.Second) }
