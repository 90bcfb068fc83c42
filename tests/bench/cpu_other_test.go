//go:build !unix

package bench

import "time"

// cpuTime is not measured on this system: cpu-ns/op then reads 0.
func cpuTime() time.Duration { return 0 }
