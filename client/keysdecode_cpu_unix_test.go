//go:build unix

package client

// The decoder's CPU time on the large listing, where getrusage exists.

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkDecodeBigListingCPU is BenchmarkDecodeBigListing with the
// process's CPU time per decode, steadier than wall time on a busy machine.
func BenchmarkDecodeBigListingCPU(b *testing.B) {
	body := bigListing(100_000)
	b.ReportAllocs()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		r, err := decodeKeysBody(body)
		if err != nil || len(r.Node.Nodes) != 100_000 {
			b.Fatal(err)
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(syscall.TimevalToNsec(ru1.Utime) + syscall.TimevalToNsec(ru1.Stime) - syscall.TimevalToNsec(ru0.Utime) - syscall.TimevalToNsec(ru0.Stime))
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(ru1.Minflt-ru0.Minflt)/float64(b.N), "minflt/op")
}
