package bench

import (
	"math"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// heapObjectsMetric is the heap memory held by objects, live or not yet
// swept: what a heap profile's in-use space and MemStats.HeapAlloc show.
const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func heapObjects() uint64 { return readMetric(heapObjectsMetric) }

// settledStacks collects garbage until the goroutine stacks stop shrinking
// (each collection halves a stack that uses under a quarter of itself) and
// returns their size then: what long-lived goroutines hold in a process
// that has run a while, whatever depth their start-up calls reached.
func settledStacks() uint64 {
	s := readMetric(stacksMetric)
	for range 8 {
		runtime.GC()
		n := readMetric(stacksMetric)
		if n >= s {
			return n
		}
		s = n
	}
	return s
}

// settledHeap collects garbage twice and returns the heap then.
func settledHeap() uint64 {
	runtime.GC()
	runtime.GC()
	return heapObjects()
}

// peakSampler records the highest heap in use while it runs, sampling every
// interval.
type peakSampler struct {
	stop chan struct{}
	done chan struct{}
	peak atomic.Uint64
}

func startPeakSampler(interval time.Duration) *peakSampler {
	p := &peakSampler{stop: make(chan struct{}), done: make(chan struct{})}
	p.peak.Store(heapObjects())
	go func() {
		defer close(p.done)
		s := []metrics.Sample{{Name: heapObjectsMetric}}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > p.peak.Load() {
				p.peak.Store(v)
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// Stop ends the sampling (taking one last sample) and returns the peak.
func (p *peakSampler) Stop() uint64 {
	if v := heapObjects(); v > p.peak.Load() {
		p.peak.Store(v)
	}
	close(p.stop)
	<-p.done
	return p.peak.Load()
}

// latencies collects per-operation times.
type latencies []time.Duration

// percentile returns the p-quantile (0 < p ≤ 1) by the nearest-rank method.
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func mebibytes(b uint64) float64 { return float64(b) / (1 << 20) }

// metric is one measured value and its unit, as b.ReportMetric takes them.
type metric struct {
	v    float64
	unit string
}

// reportAs reports values measured outside any benchmark loop as the
// sub-benchmark name: its ns/op is 0, the metrics say what was measured.
func reportAs(b *testing.B, name string, ms ...metric) {
	b.Run(name, func(b *testing.B) {
		for range b.N {
		}
		b.ReportMetric(0, "ns/op")
		for _, m := range ms {
			b.ReportMetric(m.v, m.unit)
		}
	})
}
