// Command benchreport runs the benchmarks of tests/bench (goetcd, etcd's
// official v2 client and a raw net/http loop, side by side), prints one
// table with the ratios and whether each performance target is met, and
// writes docs/benchmarks.md and a bar chart of the ratios as SVG.
//
// The benchmarks run in rounds: each round runs every benchmark once, all
// clients one after the other, so that the ratios of one round come from
// measurements minutes apart at most. The table shows the median over the
// rounds of each value and of each round's ratio. A target is judged on its
// worst round: it is met only if every round that ran its benchmark meets
// it, and the report shows the spread (min – median – max) over the rounds.
//
//	go run ./cmd/benchreport                      # run, print, write the docs
//	go run ./cmd/benchreport -in out.txt -md ""   # re-read saved output only
//
// It exits 1 when a benchmark failed or produced no result; missed targets
// are reported, not fatal.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	var (
		rounds    = flag.Int("rounds", 5, "how many times every benchmark runs")
		in        = flag.String("in", "", "read benchmark output from this file instead of running (as written by -save)")
		save      = flag.String("save", ".cache/bench.txt", "write the raw benchmark output here (empty: don't)")
		mdPath    = flag.String("md", "../docs/benchmarks.md", "write the report here (empty: don't)")
		svgPath   = flag.String("svg", "../docs/benchmarks.svg", "write the chart here (empty: don't)")
		cannedT   = flag.String("benchtime", "1s", "-benchtime of the canned-server benchmarks")
		command   = flag.String("command", "make bench", "the command named in the report")
		benchPkg  = flag.String("pkg", "./bench", "the benchmark package")
		cacheDir  = flag.String("cache", ".cache", "where the test binary is built")
		timeoutEt = flag.Duration("timeout", 10*time.Minute, "time limit of one run of the test binary")
		scaleRuns = flag.Int("scalerounds", 1, "how many of the rounds run BenchmarkEtcdWatchScale (10,000 watchers per client)")
	)
	flag.Parse()
	start := time.Now()
	env := machine()
	var raw []byte
	var runErr error
	if *in != "" {
		b, err := os.ReadFile(*in)
		if err != nil {
			fatal(err)
		}
		raw = b
	} else {
		raw, runErr = runAll(*rounds, *scaleRuns, *benchPkg, *cacheDir, *cannedT, *timeoutEt)
		if *save != "" {
			_ = os.MkdirAll(filepath.Dir(*save), 0o755)
		}
	}
	if *in == "" {
		env.elapsed = time.Since(start)
		// Kept with the raw output, so that -in renders the run as it was.
		raw = append([]byte(env.metaLines()), raw...)
		if *save != "" {
			_ = os.WriteFile(*save, raw, 0o644)
		}
	} else {
		env.readMeta(raw)
	}
	res := parse(raw)
	env.command = *command
	env.rounds = res.rounds()
	rep := build(res)
	fmt.Println()
	fmt.Print(rep.text(env))
	if *mdPath != "" {
		if err := os.WriteFile(*mdPath, []byte(rep.markdown(env, *svgPath, raw)), 0o644); err != nil {
			fatal(err)
		}
		fmt.Println("wrote", *mdPath)
	}
	if *svgPath != "" {
		if err := os.WriteFile(*svgPath, []byte(rep.svg()), 0o644); err != nil {
			fatal(err)
		}
		fmt.Println("wrote", *svgPath)
	}
	if runErr != nil {
		fatal(runErr)
	}
	if len(rep.missing) > 0 {
		fatal(fmt.Errorf("no result for: %s", strings.Join(rep.missing, ", ")))
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchreport:", err)
	os.Exit(1)
}

// runAll builds the test binary once and runs both groups of benchmarks,
// rounds times, echoing the output to stderr as it comes.
func runAll(rounds, scaleRounds int, pkg, cache, cannedTime string, timeout time.Duration) ([]byte, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	bin, err := filepath.Abs(filepath.Join(cache, "bench.test"))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "benchreport: building %s\n", pkg)
	build := exec.Command("go", "test", "-c", "-o", bin, pkg)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building the benchmarks: %w", err)
	}
	var all bytes.Buffer
	var firstErr error
	for r := 1; r <= rounds; r++ {
		// BenchmarkEtcdWatchScale (10,000 watchers per client, about a
		// minute each) runs in its own group, in the first scaleRounds
		// rounds only.
		const scale = "^BenchmarkEtcdWatchScale$"
		groups := []struct{ pattern, skip, benchtime string }{
			{"^BenchmarkCanned", "^$", cannedTime},
			{"^BenchmarkEtcd", scale, "1x"},
		}
		if r <= scaleRounds {
			groups = append(groups, struct{ pattern, skip, benchtime string }{scale, "^$", "1x"})
		}
		for _, g := range groups {
			fmt.Fprintf(&all, "round: %d\n", r)
			fmt.Fprintf(os.Stderr, "benchreport: round %d/%d: %s\n", r, rounds, g.pattern)
			cmd := exec.Command(bin, "-test.run", "^$", "-test.bench", g.pattern, "-test.skip", g.skip,
				"-test.benchmem", "-test.benchtime", g.benchtime, "-test.count", "1",
				"-test.timeout", timeout.String(), "-bench.rotate", strconv.Itoa(r-1))
			cmd.Dir = pkg // as go test does: in the package's directory
			cmd.Stdout = io.MultiWriter(&all, os.Stderr)
			cmd.Stderr = io.MultiWriter(&all, os.Stderr)
			if err := cmd.Run(); err != nil && firstErr == nil {
				firstErr = fmt.Errorf("round %d, %s: %w", r, g.pattern, err)
			}
		}
	}
	return all.Bytes(), firstErr
}

// ---- parsing ------------------------------------------------------------

// sample is one benchmark result line.
type sample struct {
	round  int
	bench  string // e.g. "EtcdSet/c=64" (client element removed)
	client string
	values map[string]float64 // by unit: ns/op, allocs/op, ops/s, ...
}

type results struct {
	samples []sample
}

func (r *results) rounds() int {
	n := 0
	for _, s := range r.samples {
		n = max(n, s.round)
	}
	return n
}

func parse(raw []byte) *results {
	res := &results{}
	round := 1
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "round: "); ok {
			round, _ = strconv.Atoi(strings.TrimSpace(v))
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		var bench []string
		client := ""
		for _, part := range strings.Split(name, "/") {
			if c, ok := strings.CutPrefix(part, "client="); ok {
				client = c
			} else {
				bench = append(bench, part)
			}
		}
		if client == "" {
			continue
		}
		s := sample{round: round, bench: strings.Join(bench, "/"), client: client, values: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				s.values[f[i+1]] = v
			}
		}
		res.samples = append(res.samples, s)
	}
	return res
}

// values returns the value of unit for bench and client, one per round.
func (r *results) values(bench, client, unit string) map[int]float64 {
	out := map[int]float64{}
	for _, s := range r.samples {
		if s.bench == bench && s.client == client {
			if v, ok := s.values[unit]; ok {
				out[s.round] = v
			}
		}
	}
	return out
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ---- the report ---------------------------------------------------------

// Clients in table order.
var clients = []string{"goetcd", "goetcd-v3", "goetcd-stream", "official", "official-default", "raw", "bare"}

// metric is one row of the table.
type metric struct {
	section string
	label   string
	bench   string
	unit    string  // the benchmark's unit
	scale   float64 // multiplies the value for display
	shown   string  // the displayed unit
	digits  int
	higher  bool // higher is better
	// omitZero leaves the row out when every value is zero.
	omitZero bool
}

var metrics = []metric{
	{"1. Small Get, canned server (client cost)", "CPU per Get", "CannedSmallGet", "cpu-ns/op", 1e-3, "µs", 1, false, false},
	{"", "wall time per Get", "CannedSmallGet", "ns/op", 1e-3, "µs", 1, false, false},
	{"", "allocations per Get", "CannedSmallGet", "allocs/op", 1, "", 0, false, false},
	{"", "bytes allocated per Get", "CannedSmallGet", "B/op", 1, "B", 0, false, false},
	{"", "CPU per Get, net/http test server", "CannedSmallGetNetHTTP", "cpu-ns/op", 1e-3, "µs", 1, false, false},
	{"", "allocations per Get, net/http test server", "CannedSmallGetNetHTTP", "allocs/op", 1, "", 0, false, false},
	{"2. Recursive Get of 100,000 children, canned (8 MiB)", "time per call", "CannedBigGet", "call-ns", 1e-6, "ms", 1, false, false},
	{"", "CPU per call", "CannedBigGet", "cpu-ns/op", 1e-6, "ms", 1, false, false},
	{"", "peak heap during a call", "CannedBigGet", "peak-heap-MiB", 1, "MiB", 1, false, false},
	{"", "allocations per call", "CannedBigGet", "allocs/op", 1, "", 0, false, false},
	{"", "bytes allocated per call", "CannedBigGet", "B/op", 1.0 / (1 << 20), "MiB", 1, false, false},
	{"3. Sets of distinct small keys, real etcd 3.5", "c=1: Sets per second", "EtcdSet/c=1", "ops/s", 1, "/s", 0, true, false},
	{"", "c=1: p50 latency", "EtcdSet/c=1", "p50-us", 1e-3, "ms", 2, false, false},
	{"", "c=1: p99 latency", "EtcdSet/c=1", "p99-us", 1e-3, "ms", 2, false, false},
	{"", "c=1: TCP connections opened", "EtcdSet/c=1", "conns", 1, "", 0, false, false},
	{"", "c=16: Sets per second", "EtcdSet/c=16", "ops/s", 1, "/s", 0, true, false},
	{"", "c=16: p50 latency", "EtcdSet/c=16", "p50-us", 1e-3, "ms", 2, false, false},
	{"", "c=16: p99 latency", "EtcdSet/c=16", "p99-us", 1e-3, "ms", 2, false, false},
	{"", "c=16: TCP connections opened", "EtcdSet/c=16", "conns", 1, "", 0, false, false},
	{"", "c=64: Sets per second", "EtcdSet/c=64", "ops/s", 1, "/s", 0, true, false},
	{"", "c=64: p50 latency", "EtcdSet/c=64", "p50-us", 1e-3, "ms", 2, false, false},
	{"", "c=64: p99 latency", "EtcdSet/c=64", "p99-us", 1e-3, "ms", 2, false, false},
	{"", "c=64: TCP connections opened", "EtcdSet/c=64", "conns", 1, "", 0, false, false},
	{"", "c=64: client CPU per Set", "EtcdSet/c=64", "cpu-ns/set", 1e-3, "µs", 1, false, false},
	{"", "c=1: Sets that failed (etcd 5xx)", "EtcdSet/c=1", "failed", 1, "", 0, false, true},
	{"", "c=16: Sets that failed (etcd 5xx)", "EtcdSet/c=16", "failed", 1, "", 0, false, true},
	{"", "c=64: Sets that failed (etcd 5xx)", "EtcdSet/c=64", "failed", 1, "", 0, false, true},
	{"4. Watch, real etcd 3.5", "write-to-event p50 (2,000 writes)", "EtcdWatchLatency", "p50-us", 1e-3, "ms", 2, false, false},
	{"", "write-to-event p99", "EtcdWatchLatency", "p99-us", 1e-3, "ms", 2, false, false},
	{"", "1,000 watchers: goroutines", "EtcdWatchers", "goroutines", 1, "", 0, false, false},
	{"", "1,000 watchers: heap", "EtcdWatchers", "heap-MiB", 1, "MiB", 1, false, false},
	{"", "1,000 watchers: goroutine stacks", "EtcdWatchers", "stacks-MiB", 1, "MiB", 1, false, false},
	{"", "1,000 watchers: heap + stacks", "EtcdWatchers", "mem-MiB", 1, "MiB", 1, false, false},
	{"", "1,000 watchers: one write to all events", "EtcdWatchers", "fanout-ms", 1, "ms", 0, false, false},
	{"5. 10,000 watchers on one client, real etcd 3.5", "10 keys (1,000 watchers each): goroutines", "EtcdWatchScale/keys=10", "goroutines", 1, "", 0, false, false},
	{"", "10 keys (1,000 watchers each): heap", "EtcdWatchScale/keys=10", "heap-MiB", 1, "MiB", 1, false, false},
	{"", "10 keys (1,000 watchers each): goroutine stacks", "EtcdWatchScale/keys=10", "stacks-MiB", 1, "MiB", 1, false, false},
	{"", "10 keys (1,000 watchers each): heap + stacks", "EtcdWatchScale/keys=10", "mem-MiB", 1, "MiB", 1, false, false},
	{"", "10 keys (1,000 watchers each): TCP connections opened", "EtcdWatchScale/keys=10", "conns", 1, "", 0, false, false},
	{"", "10 keys (1,000 watchers each): long polls etcd holds", "EtcdWatchScale/keys=10", "polls", 1, "", 0, false, false},
	{"", "10 keys (1,000 watchers each): write to last watcher of the key", "EtcdWatchScale/keys=10", "wake-ms", 1, "ms", 2, false, false},
	{"", "10 keys (1,000 watchers each): write-to-event p50", "EtcdWatchScale/keys=10", "p50-us", 1e-3, "ms", 2, false, false},
	{"", "10 keys (1,000 watchers each): write-to-event p99", "EtcdWatchScale/keys=10", "p99-us", 1e-3, "ms", 2, false, false},
	{"", "10,000 keys (one watcher each): goroutines", "EtcdWatchScale/keys=10000", "goroutines", 1, "", 0, false, false},
	{"", "10,000 keys (one watcher each): heap", "EtcdWatchScale/keys=10000", "heap-MiB", 1, "MiB", 1, false, false},
	{"", "10,000 keys (one watcher each): goroutine stacks", "EtcdWatchScale/keys=10000", "stacks-MiB", 1, "MiB", 1, false, false},
	{"", "10,000 keys (one watcher each): heap + stacks", "EtcdWatchScale/keys=10000", "mem-MiB", 1, "MiB", 1, false, false},
	{"", "10,000 keys (one watcher each): TCP connections opened", "EtcdWatchScale/keys=10000", "conns", 1, "", 0, false, false},
	{"", "10,000 keys (one watcher each): long polls etcd holds", "EtcdWatchScale/keys=10000", "polls", 1, "", 0, false, false},
	{"", "10,000 keys (one watcher each): write to last watcher of the key", "EtcdWatchScale/keys=10000", "wake-ms", 1, "ms", 2, false, false},
	{"", "10,000 keys (one watcher each): write-to-event p50", "EtcdWatchScale/keys=10000", "p50-us", 1e-3, "ms", 2, false, false},
	{"", "10,000 keys (one watcher each): write-to-event p99", "EtcdWatchScale/keys=10000", "p99-us", 1e-3, "ms", 2, false, false},
}

// target is one goal: goetcd's value of a metric over another client's
// must be at most (or at least) limit in every round.
type target struct {
	text   string
	bench  string
	unit   string
	versus string
	limit  float64
	atMost bool
	// absolute targets compare goetcd's value with limit itself.
	absolute bool
	// aboveFloor (absolute) takes goetcd's value minus that of net/http's
	// Transport alone (BenchmarkCannedSmallGetFloor) of the same round.
	aboveFloor bool
	// scale, shown and digits display an absolute target's values (scale
	// 0: as measured).
	scale  float64
	shown  string
	digits int
	chart  string // label in the chart
}

var targets = []target{
	{text: "Small Get: client CPU above net/http's floor ≤ 8 µs per Get", bench: "CannedSmallGet", unit: "cpu-ns/op", limit: 8000, atMost: true, absolute: true, aboveFloor: true, scale: 1e-3, shown: " µs", digits: 1},
	{text: "Small Get: CPU per op ≤ 1.2× raw", bench: "CannedSmallGet", unit: "cpu-ns/op", versus: "raw", limit: 1.2, atMost: true, chart: "Small Get CPU vs raw"},
	{text: "Small Get: allocs/op ≤ 0.6× official", bench: "CannedSmallGet", unit: "allocs/op", versus: "official", limit: 0.6, atMost: true, chart: "Small Get allocs vs official"},
	{text: "100,000-node Get: time ≤ 0.5× official", bench: "CannedBigGet", unit: "call-ns", versus: "official", limit: 0.5, atMost: true, chart: "Big Get time vs official"},
	{text: "100,000-node Get: peak heap ≤ 0.7× official", bench: "CannedBigGet", unit: "peak-heap-MiB", versus: "official", limit: 0.7, atMost: true, chart: "Big Get peak heap vs official"},
	{text: "Sets, c=64: ops/s ≥ 1.0× raw", bench: "EtcdSet/c=64", unit: "ops/s", versus: "raw", limit: 1.0, chart: "Sets c=64 vs raw"},
	{text: "Sets, c=64: ops/s ≥ 1.3× official-default (its DefaultTransport)", bench: "EtcdSet/c=64", unit: "ops/s", versus: "official-default", limit: 1.3, chart: "Sets c=64 vs official (default)"},
	{text: "Sets, c=64: TCP connections opened ≤ 64", bench: "EtcdSet/c=64", unit: "conns", limit: 64, atMost: true, absolute: true},
	{text: "Watch: write-to-event p50 ≤ 0.9× official", bench: "EtcdWatchLatency", unit: "p50-us", versus: "official", limit: 0.9, atMost: true, chart: "Watch p50 vs official"},
	{text: "1,000 watchers: memory (heap + stacks) ≤ official", bench: "EtcdWatchers", unit: "mem-MiB", versus: "official", limit: 1, atMost: true, chart: "1,000 watchers memory vs official"},
	{text: "10,000 watchers on 10 keys: long polls open ≤ 10", bench: "EtcdWatchScale/keys=10", unit: "polls", limit: 10, atMost: true, absolute: true},
	{text: "10,000 watchers on 10 keys: heap + stacks ≤ 0.25× official", bench: "EtcdWatchScale/keys=10", unit: "mem-MiB", versus: "official", limit: 0.25, atMost: true, chart: "10k watchers, 10 keys: memory vs official"},
	{text: "10,000 watchers on 10 keys: waking all watchers of a key ≤ 1.2× raw", bench: "EtcdWatchScale/keys=10", unit: "wake-ms", versus: "raw", limit: 1.2, atMost: true, chart: "10k watchers, 10 keys: wake-up vs raw"},
	{text: "10,000 watchers on 10,000 keys: heap + stacks ≤ 0.5× official", bench: "EtcdWatchScale/keys=10000", unit: "mem-MiB", versus: "official", limit: 0.5, atMost: true, chart: "10k watchers, 10k keys: memory vs official"},
}

type cell struct {
	v  float64
	ok bool
}

type row struct {
	m      metric
	cells  map[string]cell
	vsOff  cell // median of per-round goetcd/official
	vsRaw  cell
	vsOffD cell
}

// verdict is a target judged on every round that has its values.
type verdict struct {
	t target
	// rounds holds per round goetcd's ratio to t.versus, or for absolute
	// targets its value.
	rounds map[int]float64
	ok     bool // there was a value
	// min, median and max are over the rounds; worst is min or max,
	// whichever is the wrong side of the limit, from round worstRound.
	min, median, max, worst float64
	worstRound              int
	met                     bool // every round meets the target
}

type report struct {
	res      *results
	rows     []row
	verdicts []verdict
	missing  []string
	// floorAllocs and floorCPU are net/http's Transport alone on the small
	// Get (BenchmarkCannedSmallGetFloor), medians; ok says they were
	// measured.
	floorAllocs, floorCPU float64
	floorOK               bool
	// setCores is each client's CPU use at c=64, in cores.
	setCores map[string]float64
}

// The floor: net/http's Transport alone on the small Get's exchange.
const (
	floorBench  = "CannedSmallGetFloor"
	floorClient = "transport"
)

// ratios is a/b per round, for the rounds that have both.
func ratios(a, b map[int]float64) map[int]float64 {
	out := map[int]float64{}
	for r, va := range a {
		if vb, ok := b[r]; ok && vb != 0 {
			out[r] = va / vb
		}
	}
	return out
}

// aboveFloor is client's value of unit on the small Get minus that of
// net/http's Transport alone of the same round, for the rounds that have
// both.
func (r *results) aboveFloor(client, unit string) map[int]float64 {
	a, f := r.values("CannedSmallGet", client, unit), r.values(floorBench, floorClient, unit)
	out := map[int]float64{}
	for round, va := range a {
		if vf, ok := f[round]; ok {
			out[round] = va - vf
		}
	}
	return out
}

// ratio is the median over rounds of a/b for the rounds that have both.
func ratio(a, b map[int]float64) cell {
	return medianOf(ratios(a, b))
}

func medianOf(m map[int]float64) cell {
	if len(m) == 0 {
		return cell{}
	}
	var vs []float64
	for _, v := range m {
		vs = append(vs, v)
	}
	return cell{median(vs), true}
}

// perRound is what t judges in each round.
func (t target) perRound(res *results) map[int]float64 {
	switch {
	case t.aboveFloor:
		return res.aboveFloor("goetcd", t.unit)
	case t.absolute:
		return res.values(t.bench, "goetcd", t.unit)
	}
	return ratios(res.values(t.bench, "goetcd", t.unit), res.values(t.bench, t.versus, t.unit))
}

func (t target) meets(v float64) bool {
	if t.atMost {
		return v <= t.limit
	}
	return v >= t.limit
}

// judge finds the worst of the rounds: t is met only if every round meets it.
func judge(t target, rounds map[int]float64) verdict {
	v := verdict{t: t, rounds: rounds, ok: len(rounds) > 0, met: len(rounds) > 0}
	if !v.ok {
		return v
	}
	keys := slices.Sorted(maps.Keys(rounds))
	v.median = medianOf(rounds).v
	v.min, v.max = rounds[keys[0]], rounds[keys[0]]
	v.worstRound, v.worst = keys[0], rounds[keys[0]]
	for _, r := range keys {
		x := rounds[r]
		v.min, v.max = min(v.min, x), max(v.max, x)
		if (t.atMost && x > v.worst) || (!t.atMost && x < v.worst) {
			v.worstRound, v.worst = r, x
		}
		if !t.meets(x) {
			v.met = false
		}
	}
	return v
}

func build(res *results) *report {
	rep := &report{res: res}
	for _, m := range metrics {
		r := row{m: m, cells: map[string]cell{}}
		for _, c := range clients {
			r.cells[c] = medianOf(res.values(m.bench, c, m.unit))
		}
		g := res.values(m.bench, "goetcd", m.unit)
		r.vsOff = ratio(g, res.values(m.bench, "official", m.unit))
		r.vsOffD = ratio(g, res.values(m.bench, "official-default", m.unit))
		r.vsRaw = ratio(g, res.values(m.bench, "raw", m.unit))
		if !r.cells["goetcd"].ok {
			rep.missing = append(rep.missing, m.bench+" "+m.unit)
		}
		rep.rows = append(rep.rows, r)
	}
	if a := medianOf(res.values(floorBench, floorClient, "allocs/op")); a.ok {
		rep.floorOK, rep.floorAllocs = true, a.v
		rep.floorCPU = medianOf(res.values(floorBench, floorClient, "cpu-ns/op")).v
	} else {
		rep.missing = append(rep.missing, floorBench+" (client "+floorClient+")")
	}
	rep.setCores = map[string]float64{}
	for _, c := range clients {
		cpu := medianOf(res.values("EtcdSet/c=64", c, "cpu-ns/set"))
		ops := medianOf(res.values("EtcdSet/c=64", c, "ops/s"))
		if cpu.ok && ops.ok {
			rep.setCores[c] = cpu.v * ops.v / 1e9
		}
	}
	for _, t := range targets {
		rep.verdicts = append(rep.verdicts, judge(t, t.perRound(res)))
	}
	return rep
}

// cpuBound is, for Sets at c=64 on cores cores, the CPU client used (in
// cores) and how many times its throughput a client using no CPU at all
// could reach, if etcd's share of the CPU sets the pace.
func (rep *report) cpuBound(client string, cores int) (used, bound float64, ok bool) {
	used, ok = rep.setCores[client]
	if !ok || cores == 0 {
		return 0, 0, false
	}
	return used, float64(cores) / (float64(cores) - min(used, float64(cores)-0.01)), true
}

// ---- machine ------------------------------------------------------------

type env struct {
	date, goVersion, cpu, kernel, load string
	cores                              int
	memGiB                             float64
	elapsed                            time.Duration
	command                            string
	rounds                             int
}

func machine() env {
	e := env{date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), cores: runtime.NumCPU()}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		e.goVersion = strings.TrimSpace(string(out))
	} else {
		e.goVersion = runtime.Version()
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if e.cpu == "" {
		e.cpu = runtime.GOARCH
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.kernel = "Linux " + strings.TrimSpace(string(b))
	} else {
		e.kernel = runtime.GOOS
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			e.load = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				e.memGiB = kb / (1 << 20)
			}
		}
	}
	return e
}

// metaLines describes the run for the saved output.
func (e env) metaLines() string {
	return fmt.Sprintf("meta: date=%s\nmeta: elapsed=%s\nmeta: load=%s\nmeta: go=%s\n", e.date, e.elapsed.Round(time.Second), e.load, e.goVersion)
}

// readMeta takes the description of a saved run, where it has one.
func (e *env) readMeta(raw []byte) {
	e.elapsed = 0
	for _, l := range strings.Split(string(raw), "\n") {
		kv, ok := strings.CutPrefix(l, "meta: ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "date":
			e.date = v
		case "elapsed":
			e.elapsed, _ = time.ParseDuration(v)
		case "load":
			e.load = v
		case "go":
			e.goVersion = v
		}
	}
}

// ---- text and markdown ----------------------------------------------------

func (c cell) format(digits int) string {
	if !c.ok {
		return "–"
	}
	return formatNum(c.v, digits)
}

func formatNum(v float64, digits int) string {
	s := strconv.FormatFloat(v, 'f', digits, 64)
	// Thousands separators for the integer part.
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, ch := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}

func (r row) value(c string) string {
	x := r.cells[c]
	if !x.ok {
		return "–"
	}
	return formatNum(x.v*r.m.scale, r.m.digits)
}

func (r row) allZero() bool {
	for _, c := range r.cells {
		if c.ok && c.v != 0 {
			return false
		}
	}
	return true
}

func ratioText(c cell) string {
	if !c.ok {
		return "–"
	}
	return strconv.FormatFloat(c.v, 'f', 2, 64) + "×"
}

// usedClients are the columns with at least one value.
func (rep *report) usedClients() []string {
	var out []string
	for _, c := range clients {
		for _, r := range rep.rows {
			if r.cells[c].ok {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func (rep *report) tableRows() [][]string {
	cols := rep.usedClients()
	head := append([]string{"metric", "unit"}, cols...)
	head = append(head, "goetcd/official", "goetcd/official-default", "goetcd/raw")
	out := [][]string{head}
	for _, r := range rep.rows {
		if r.m.section != "" {
			out = append(out, []string{"§" + r.m.section})
		}
		if r.m.omitZero && r.allZero() {
			continue
		}
		line := []string{r.m.label, r.m.shown}
		for _, c := range cols {
			line = append(line, r.value(c))
		}
		line = append(line, ratioText(r.vsOff), ratioText(r.vsOffD), ratioText(r.vsRaw))
		out = append(out, line)
	}
	return out
}

// format shows one of v's values: a ratio, or an absolute target's value.
func (v verdict) format(x float64) string {
	if !v.t.absolute {
		return strconv.FormatFloat(x, 'f', 2, 64) + "×"
	}
	scale := v.t.scale
	if scale == 0 {
		scale = 1
	}
	return formatNum(x*scale, v.t.digits) + v.t.shown
}

// spread is "min – median – max" over the rounds, the worst of the two ends
// passed through mark; one value when one round has it.
func (v verdict) spread(mark func(string) string) string {
	if !v.ok {
		return "no result"
	}
	if len(v.rounds) == 1 {
		return mark(v.format(v.worst))
	}
	lo, hi := v.format(v.min), v.format(v.max)
	if v.t.atMost {
		hi = mark(hi)
	} else {
		lo = mark(lo)
	}
	return lo + " – " + v.format(v.median) + " – " + hi
}

// worstText names the worst round, and how many rounds had the target's
// values when not all of the run's total did.
func (v verdict) worstText(total int) string {
	if !v.ok {
		return "–"
	}
	if n := len(v.rounds); n < total {
		return fmt.Sprintf("round %d (%d of %d rounds ran it)", v.worstRound, n, total)
	}
	return fmt.Sprintf("round %d", v.worstRound)
}

func (v verdict) mark() string {
	if v.met {
		return "met"
	}
	return "missed"
}

// padRight pads s with spaces to n characters.
func padRight(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-len([]rune(s))))
}

func (v verdict) line(total int) string {
	spread := v.spread(func(s string) string { return "[" + s + "]" })
	return fmt.Sprintf("%s  %s  %s  worst: %s", padRight(strings.ToUpper(v.mark()), 6), padRight(v.t.text, 68), padRight(spread, 26), v.worstText(total))
}

func (rep *report) text(e env) string {
	var b strings.Builder
	rows := rep.tableRows()
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		if len(r) == 1 {
			continue
		}
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for i, r := range rows {
		if len(r) == 1 {
			fmt.Fprintf(&b, "\n%s\n", strings.TrimPrefix(r[0], "§"))
			continue
		}
		for j, c := range r {
			pad := widths[j] - len([]rune(c))
			if j < 2 {
				b.WriteString(c + strings.Repeat(" ", pad))
			} else {
				b.WriteString(strings.Repeat(" ", pad) + c)
			}
			b.WriteString("  ")
		}
		b.WriteString("\n")
		if i == 0 {
			total := 0
			for _, w := range widths {
				total += w + 2
			}
			b.WriteString(strings.Repeat("-", total) + "\n")
		}
	}
	fmt.Fprintf(&b, "\nTargets, each judged on its worst round (%d round(s); min – median – max over the rounds, the worst in brackets):\n", e.rounds)
	met := 0
	for _, v := range rep.verdicts {
		b.WriteString("  " + v.line(e.rounds) + "\n")
		if v.met {
			met++
		}
	}
	if rep.floorOK {
		fmt.Fprintf(&b, "Floor (net/http Transport alone, small Get): %.0f allocs/op, %.1f µs CPU/op (medians).\n", rep.floorAllocs, rep.floorCPU/1e3)
	}
	fmt.Fprintf(&b, "%d of %d targets met in every round. %s, %d cores, %s; %s; run took %s.\n",
		met, len(rep.verdicts), e.cpu, e.cores, e.kernel, e.goVersion, e.elapsed.Round(time.Second))
	return b.String()
}

func (rep *report) markdown(e env, svgPath string, raw []byte) string {
	var b strings.Builder
	b.WriteString("# Benchmarks: goetcd, etcd's official v2 client, and raw net/http\n\n")
	b.WriteString("<!-- Written by tests/cmd/benchreport (`make bench`); edits are overwritten. -->\n\n")
	fmt.Fprintf(&b, "Generated by `%s` on %s in %s (%d rounds).\n\n", e.command, e.date, e.elapsed.Round(time.Second), e.rounds)
	b.WriteString("| machine | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| CPU | %s (/proc/cpuinfo), %d cores |\n", e.cpu, e.cores)
	fmt.Fprintf(&b, "| memory | %.0f GiB |\n", e.memGiB)
	fmt.Fprintf(&b, "| kernel | %s |\n", e.kernel)
	fmt.Fprintf(&b, "| Go | `%s` |\n", e.goVersion)
	fmt.Fprintf(&b, "| load average at the start | %s |\n", e.load)
	b.WriteString("| etcd | 3.5.35, one member, `--enable-v2 --unsafe-no-fsync` |\n")
	b.WriteString("| official client | `go.etcd.io/etcd/client/v2` v2.305.35 |\n\n")

	b.WriteString("## Targets\n\n")
	b.WriteString("Each target is judged on its worst round: it is met only if every round meets it (the 10,000-watcher ones over the rounds that ran them). The spread is goetcd's ratio to the other client (or its value) in each round: lowest – median – highest, the worst in bold.\n\n")
	met := 0
	b.WriteString("| target | min – median – max over the rounds | worst round | |\n| --- | ---: | --- | --- |\n")
	for _, v := range rep.verdicts {
		mark := "met"
		if !v.met {
			mark = "**missed**"
		} else {
			met++
		}
		spread := v.spread(func(s string) string { return "**" + s + "**" })
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", v.t.text, spread, v.worstText(e.rounds), mark)
	}
	fmt.Fprintf(&b, "\n%d of %d targets met in every round of this run.\n\n", met, len(rep.verdicts))
	first := true
	for _, v := range rep.verdicts {
		if v.met {
			continue
		}
		if w := rep.why(v, e.cores); w != "" {
			if first {
				b.WriteString("What limits the missed ones, from this run's numbers:\n\n")
				first = false
			}
			fmt.Fprintf(&b, "* **%s**: %s\n", v.t.text, w)
		}
	}
	if !first {
		b.WriteString("\n")
	}
	// A throughput ratio beyond what the client's CPU can explain is luck.
	for _, v := range rep.verdicts {
		if v.t.unit != "ops/s" || v.t.versus == "" || v.t.versus == "official-default" || !v.met {
			continue
		}
		if oc, bound, ok := rep.cpuBound(v.t.versus, e.cores); ok && v.median > bound {
			fmt.Fprintf(&b, "Caution: **%s** is met with a median of %.2f×, more than the about %.2f× a client using no CPU at all could give over %s here if etcd's share of the CPU sets the pace (%s took %.2f of the %d cores at c=64): the rest is most likely other work on the machine during %s's turns (see its p99), not goetcd. What goetcd brings to Sets on this machine is its lower CPU per Set.\n\n",
				v.t.text, v.median, bound, v.t.versus, v.t.versus, oc, e.cores, v.t.versus)
		}
	}
	if w := rep.bareContext(); w != "" {
		b.WriteString(w + "\n\n")
	}
	if svgPath != "" {
		fmt.Fprintf(&b, "![goetcd against the others, per target](%s)\n\n", filepath.Base(svgPath))
		b.WriteString("Each bar is how many times better goetcd does than the other client at the median of the rounds (the ratio inverted where lower is better), on a log scale from 1×, so right of 1 is better; the thin line spans the lowest to the highest round, the tick is the target.\n\n")
	}

	b.WriteString("## Results\n\n")
	b.WriteString("Medians over the rounds; each ratio is the median of the per-round ratios, so it compares measurements taken within a minute of each other.\n\n")
	rows := rep.tableRows()
	for i, r := range rows {
		if len(r) == 1 {
			fmt.Fprintf(&b, "| **%s** |%s\n", strings.TrimPrefix(r[0], "§"), strings.Repeat(" |", len(rows[0])-1))
			continue
		}
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
		if i == 0 {
			b.WriteString("| --- | --- |" + strings.Repeat(" ---: |", len(r)-2) + "\n")
		}
	}
	if rep.floorOK {
		fmt.Fprintf(&b, "\nFloor: net/http's Transport alone, on the same small Get (request copied, body read, nothing decoded): %.0f allocations and %.1f µs of CPU per Get (medians). goetcd does not use net/http's Transport for this Get, so it can go below the floor: a negative CPU above the floor is CPU net/http's Transport alone would spend and goetcd does not.\n", rep.floorAllocs, rep.floorCPU/1e3)
	}
	if w := rep.setsContext(e.cores); w != "" {
		b.WriteString("\n" + w + "\n")
	}
	b.WriteString(methodNotes)
	b.WriteString("\n<details><summary>Raw benchmark output of this run</summary>\n\n```\n")
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "round:") || strings.HasPrefix(l, "cpu:") || strings.HasPrefix(l, "--- FAIL") || strings.HasPrefix(l, "FAIL") {
			b.WriteString(strings.Join(strings.Fields(l), " ") + "\n")
		}
	}
	b.WriteString("```\n\n</details>\n")
	return b.String()
}

const methodNotes = `
## What is measured

The clients:

* **goetcd**: this module's client as users get it: DefaultTransport's
  settings (no gzip asked for, up to 64 connections per member, all of which
  may stay idle in the pool) driving its own connection transport,
  ` + "`NewTransport`" + ` (HTTP/1.1 on connections it keeps, each request written
  and its answer read on the calling goroutine, where net/http's Transport
  hands both to two goroutines per connection); watches through
  ` + "`NewWatchTransport`" + ` (the same, without the cap, 1 KiB read buffers).
* **official**: ` + "`go.etcd.io/etcd/client/v2`" + ` v2.305.35 given the same tuned
  ` + "`*http.Transport`" + ` as goetcd (for watches without the cap, as it sends
  them through the same transport),
  so that transport tuning does not decide the comparison.
* **official-default**: the official client on its own DefaultTransport
  settings (Go's defaults: 2 idle connections per host), which is what its
  users get without tuning. Only where the transport matters (Sets).
* **raw**: a hand-written loop on one pooled ` + "`http.Client`" + ` (same tuned
  transport): URL by concatenation, ` + "`encoding/json`" + ` into structs of the
  same shape as Response and Node, the X-Etcd-Index/X-Raft-* headers read.
  It is the practical limit of a plain Go HTTP client.
* **goetcd-v3**: the v3 backend (` + "`v3keys`" + `): the same KeysAPI kept in
  etcd's v3 store over the v3 JSON gateway, on goetcd's transport; for the
  small and the 100,000-node Get against canned gateway answers of etcd
  3.5.35 (the read transaction a Get sends), for Sets against the same
  member's v3 store (each Set is a read and a guarded transaction). Not
  used in the ratios.
* **goetcd-stream**: goetcd's watcher with ` + "`WatcherOptions.Stream`" + ` (one
  answer carrying every event); shown for the watch only, not used in the
  ratios.
* **bare**: no client but the watch latency's yardstick: a long poll written
  by hand on a socket of its own and its answer read with one buffered
  reader, the event's index taken from the bytes (no HTTP library, no JSON
  decoder, nothing kept). Its time is what etcd, the writer and the machine
  take; a client can only add to it.

Every transport dials through a counting ` + "`net.Dialer`" + ` wrapper: "TCP
connections opened" is every connection of a fresh client, warm-up
included.

1. **Small Get**: ` + "`Get(\"/foo\")`" + ` against an in-process canned server that answers
   with the exact bytes etcd 3.5.35 sends (status line, the
   Access-Control-*, Content-Type, X-Etcd-Cluster-Id, X-Etcd-Index,
   X-Raft-Index, X-Raft-Term and Date headers, the JSON and its newline),
   one connection reused. The canned server is a minimal HTTP/1.1 responder
   that allocates nothing per request, so allocs/op and B/op are the
   client's alone; CPU per Get is the process's CPU time (getrusage) over
   the loop, which also holds the canned server's two syscalls per request
   (the same for every client). The "net/http test server" rows are the
   same Get against an ` + "`httptest`" + ` server, whose own CPU and allocations are in
   every client's numbers. The floor line below the table is net/http's
   Transport alone on the same exchange: every client pays it.
2. **Recursive Get of 100,000 children**: the canned answer is what etcd
   sends for such a directory (one 8 MiB chunk of
   ` + "`Transfer-Encoding: chunked`" + `, children in etcd's field order). Time is wall
   time per call; peak heap is the highest heap in use (live and unswept
   objects, sampled every 100 µs) during one call, above the heap after a
   collection just before it. The clients take turns call by call (seven
   timed calls and seven peak-heap calls each per round, each after a
   collection), so that other work on the machine hits them alike.
3. **Sets**: ` + "`Set(key, value)`" + ` of distinct small keys from 1, 16 or 64
   goroutines sharing one client against a real single-member etcd 3.5.35
   (` + "`--unsafe-no-fsync`" + `, snapshots moved out of the run) on the same machine,
   the clients taking turns in slices of an eighth of their Sets;
   1,000, 4,000 and 6,000 Sets per client and round, after 3,000 Sets that
   warm etcd up and are not counted. etcd and the client share the
   machine's cores, so a client's CPU per Set takes CPU from etcd.
4. **Watch**: each client watches a key of its own; the keys are written in
   turn, 2,000 times each, by a separate raw client (the same for all),
   each write after the previous event arrived; latency
   is from the start of the write to the watcher's Next returning the
   event (after 500 such writes to warm up, not counted). Then 1,000 watchers of one key on one client: once etcd counts
   all of them (` + "`/v2/stats/store`" + `; goetcd's share one long poll), goroutines, heap after collection and
   goroutine stacks above what the process had before; then one write wakes
   them all.
5. **10,000 watchers on one client**, each calling Next in a loop in a
   goroutine of its own, all from the same index: on 10 keys (1,000 watchers
   each; goetcd's watchers of a key share one long poll) and on 10,000 keys
   (one each). Once etcd holds their long polls (` + "`/v2/stats/store`" + `; for goetcd one
   per key), goroutines, heap, stacks and TCP connections as in 4, and the
   long polls etcd holds. Then every key is written once: the first 500 one
   at a time, each after every watcher of the previous key had its event
   (latency from the start of the write to each watcher's event, p50 and
   p99 over all of them; "write to last watcher of the key" is the median
   over those keys of the time until the last of the key's watchers had
   it), the rest by 16 writers at once. Every watcher must see its key's
   event once, with its index, or the benchmark fails. These run in the
   first round only (` + "`benchreport -scalerounds n`" + ` for more): each takes
   about a minute per client.

Each round runs the clients in a different order (` + "`-bench.rotate`" + `), so that
none is always first. The machine may be shared: other work may run during
a round (see the load average above). The per-round ratios are what to
read; absolute times vary from run to run.
`

// median is the median over the rounds of client's value of unit for bench
// (0 when it has none).
func (rep *report) median(bench, unit, client string) float64 {
	for _, r := range rep.rows {
		if r.m.bench == bench && r.m.unit == unit {
			return r.cells[client].v
		}
	}
	return medianOf(rep.res.values(bench, client, unit)).v
}

// why explains a missed target from what the run measured.
func (rep *report) why(v verdict, cores int) string {
	if !v.ok {
		return ""
	}
	switch {
	case v.t.unit == "allocs/op" && rep.floorOK:
		off := rep.median("CannedSmallGet", "allocs/op", "official")
		return fmt.Sprintf("net/http's Transport alone allocates %.0f times for this exchange (the floor row), %.0f of the official client's %.0f; 0.6× leaves %.0f allocations for everything the client itself does. goetcd's 6 above the floor: the request's URL with its path (1, one allocation), its header (1), the decoded answer (1), and 3 in http.Client.Do (its redirect bookkeeping: the request list, the header copier and its header clone), which every attempt pays because go-retryablehttp sends through an *http.Client.",
			rep.floorAllocs, rep.floorAllocs, off, 0.6*off-rep.floorAllocs)
	case v.t.aboveFloor && rep.floorOK:
		g := rep.res.values("CannedSmallGet", "goetcd", v.t.unit)[v.worstRound]
		f := rep.res.values(floorBench, floorClient, v.t.unit)[v.worstRound]
		off := medianOf(rep.res.aboveFloor("official", v.t.unit)).v
		allocs := medianOf(rep.res.aboveFloor("goetcd", "allocs/op")).v
		return fmt.Sprintf("net/http's Transport alone (the floor row) takes %.1f µs of CPU per Get here (median), the canned server's syscalls included; every client pays it. What goetcd does above it (go-retryablehttp's Do and the http.Client under it, building the request, decoding, the X-Etcd/X-Raft headers and the collection of the %.0f allocations it makes beyond the floor's) may take %.1f µs in every round, so %.1f µs per Get in all at the median floor. goetcd took %.1f µs above the floor at the median and %.1f µs in round %d (%.1f µs against that round's floor of %.1f µs), %.1f µs over; the official client takes %.1f µs above the floor (median).",
			rep.floorCPU/1e3, allocs, v.t.limit/1e3, (rep.floorCPU+v.t.limit)/1e3, v.median/1e3, v.worst/1e3, v.worstRound, g/1e3, f/1e3, (v.worst-v.t.limit)/1e3, off/1e3)
	case v.t.unit == "ops/s" && v.t.versus == "raw":
		own, raw := rep.median(v.t.bench, "cpu-ns/set", "goetcd"), rep.median(v.t.bench, "cpu-ns/set", "raw")
		return fmt.Sprintf("goetcd's Sets per second were %.2f× the raw loop's in round %d, %.2f× at the median. Both share the %d cores with etcd, so the CPU a client spends per Set is taken from etcd: goetcd's client CPU per Set is %.1f µs, the raw loop's %.1f µs (medians, the c=64 CPU row).",
			v.worst, v.worstRound, v.median, cores, own/1e3, raw/1e3)
	case v.t.unit == "ops/s" && v.t.versus != "":
		oc, bound, ok := rep.cpuBound(v.t.versus, cores)
		if !ok {
			break
		}
		return fmt.Sprintf("etcd and the client share the %d cores and etcd needs most of them: %s took %.2f cores at c=64, so a client using no CPU at all could reach about %.2f× its throughput on this machine, if etcd's share of the CPU sets the pace.",
			cores, v.t.versus, oc, bound)
	case v.t.unit == "conns":
		return "the number is the worst round's. net/http's Transport dials a new connection when a request finds none idle, even if one comes back a moment later; DefaultTransport's MaxConnsPerHost (64) bounds that, so a count above 64 means connections were closed and replaced during the run (a connection whose request write net/http has not seen finish within 50 ms of the answer is dropped: persistConn.wroteRequest)."
	case v.t.unit == "call-ns":
		cpu, wall := rep.median(v.t.bench, "cpu-ns/op", "goetcd"), rep.median(v.t.bench, "call-ns", "goetcd")
		off := rep.median(v.t.bench, "call-ns", v.t.versus)
		return fmt.Sprintf("%.1f× the official client's %.1f ms (median) is %.1f ms; goetcd's call is CPU-bound (%.0f ms of CPU in %.0f ms, medians): decoding 8 MiB into 100,000 Nodes (96 bytes each, the exported type), the collector marking them as they are made, and the reads; a CPU profile puts about two thirds in the decoder.",
			v.t.limit, off/1e6, v.t.limit*off/1e6, cpu/1e6, wall/1e6)
	case v.t.unit == "p50-us":
		raw := ratio(rep.res.values(v.t.bench, "raw", v.t.unit), rep.res.values(v.t.bench, v.t.versus, v.t.unit))
		off := rep.median(v.t.bench, v.t.unit, v.t.versus)
		return fmt.Sprintf("goetcd's p50 was %.2f× the official client's at the median and %.2f× in round %d; the raw net/http loop's %s (median). goetcd and the raw loop read a long poll's answer on the calling goroutine, the official client on one of its own. A Set's p50 at c=1 (a client's whole round trip to etcd) is %.2f ms here, the official client's write-to-event p50 %.2f ms (medians); %.1f× asks goetcd to take %.0f µs off the latter.",
			v.median, v.worst, v.worstRound, ratioText(raw), rep.median("EtcdSet/c=1", "p50-us", "goetcd")/1e3, off/1e3, v.t.limit, (1-v.t.limit)*off)
	case v.t.unit == "mem-MiB" && v.t.bench == "EtcdWatchScale/keys=10000":
		raw, off := rep.median(v.t.bench, "mem-MiB", "raw"), rep.median(v.t.bench, "mem-MiB", "official")
		return fmt.Sprintf("with one watcher per key nothing is shared: each waits on a connection of its own, and the raw net/http loop holds %.2f× the official client's memory for the same watchers. Per watcher, net/http keeps two goroutines (readLoop, writeLoop) and the connection's state, and the watcher's own goroutine waits in the body's Read; goetcd's watch connections have 1 KiB/512 B buffers instead of 4 KiB each, which puts its heap below the raw loop's, while the stacks of the three goroutines (about 16 KiB a watcher) are the same for both. 0.5× would take a watch client without net/http's two goroutines per connection.", raw/off)
	case v.t.unit == "mem-MiB":
		return "heap and goroutine stacks of 1,000 waiting requests are mostly net/http's (two goroutines and 8 KiB of buffers per connection); stacks vary with the runtime's adaptive initial stack size from run to run."
	}
	return ""
}

// The watch latency's yardstick: a long poll read off a socket with no
// HTTP library and no JSON decoder (tests/bench's bare reader).
const (
	watchBench = "EtcdWatchLatency"
	bareClient = "bare"
)

// bareContext puts the watch latency target beside the bare reader: what
// etcd, the writer and the machine take of the official client's time, and
// what the 0.9× target leaves a client above that, round by round.
func (rep *report) bareContext() string {
	const unit = "p50-us"
	bare, off := rep.res.values(watchBench, bareClient, unit), rep.res.values(watchBench, "official", unit)
	var t target
	for _, x := range targets {
		if x.bench == watchBench && x.unit == unit {
			t = x
		}
	}
	br := judge(target{atMost: true}, ratios(bare, off))
	if t.limit == 0 || len(br.rounds) == 0 {
		return ""
	}
	left := map[int]float64{}
	for r, b := range bare {
		if o, ok := off[r]; ok {
			left[r] = t.limit*o - b
		}
	}
	l := judge(target{atMost: false}, left)
	// Each client's p50 minus the bare reader's, median over the rounds.
	var above []string
	for _, c := range []struct{ name, text string }{{"goetcd", "goetcd"}, {"raw", "the raw net/http loop"}, {"official", "the official client"}} {
		d := map[int]float64{}
		for r, v := range rep.res.values(watchBench, c.name, unit) {
			if b, ok := bare[r]; ok {
				d[r] = v - b
			}
		}
		if m := medianOf(d); m.ok {
			above = append(above, fmt.Sprintf("%s %.1f µs", c.text, m.v))
		}
	}
	return fmt.Sprintf("Watch yardstick: the bare reader (a long poll read off a socket of its own, with no HTTP library, no JSON decoder and nothing kept: no client does less) had a write-to-event p50 of %s the official client's (lowest – median – highest over the rounds): that much of the official client's time is etcd's, the writer's and the machine's. %.1f× the official client's left a client %.1f µs above the bare reader at the median of the rounds and %.1f µs in round %d. Above the bare reader (medians): %s.",
		br.spread(func(s string) string { return s }), t.limit, l.median, l.worst, l.worstRound, strings.Join(above, ", "))
}

// setsContext puts goetcd's Sets at c=64 against the official client on
// the same tuned transport (a ratio of the table, not a target) beside what
// the CPU that client leaves to etcd allows.
func (rep *report) setsContext(cores int) string {
	const bench, unit = "EtcdSet/c=64", "ops/s"
	v := judge(target{atMost: false}, ratios(rep.res.values(bench, "goetcd", unit), rep.res.values(bench, "official", unit)))
	oc, bound, ok := rep.cpuBound("official", cores)
	if !v.ok || !ok {
		return ""
	}
	return fmt.Sprintf("Sets at c=64 against the official client on the same tuned transport (not a target): goetcd's Sets per second are %s the official client's (lowest – median – highest over the rounds). etcd and the client share the %d cores and etcd needs most of them: the official client took %.2f cores at c=64, so a client using no CPU at all could reach about %.2f× its throughput on this machine, if etcd's share of the CPU sets the pace.\n",
		v.spread(func(s string) string { return s }), cores, oc, bound)
}

// ---- chart --------------------------------------------------------------

// svg draws, per target with a ratio, how many times better goetcd does
// than the other client (the ratio inverted where lower is better), with
// the target as a tick.
func (rep *report) svg() string {
	type bar struct {
		label             string
		adv, lo, hi, goal float64
		met, ok           bool
	}
	var bars []bar
	for _, v := range rep.verdicts {
		if v.t.chart == "" {
			continue
		}
		b := bar{label: v.t.chart, ok: v.ok && v.min > 0, met: v.met}
		if b.ok {
			if v.t.atMost {
				b.adv, b.lo, b.hi, b.goal = 1/v.median, 1/v.max, 1/v.min, 1/v.t.limit
			} else {
				b.adv, b.lo, b.hi, b.goal = v.median, v.min, v.max, v.t.limit
			}
		}
		bars = append(bars, b)
	}
	// A log scale from 1×: better and worse by the same factor are bars of
	// the same length, and a 50× advantage does not squeeze the rest.
	minV, maxV := 0.5, 2.0
	for _, b := range bars {
		if b.ok {
			minV = min(minV, b.lo/1.25, b.goal/1.25)
			maxV = max(maxV, b.hi*1.25, b.goal*1.25)
		}
	}
	const (
		left, right, top, barH, gap = 300, 70, 40, 22, 10
		plotW                       = 420
	)
	h := top + len(bars)*(barH+gap) + 40
	w := left + plotW + right
	x := func(v float64) float64 {
		return left + (math.Log(v)-math.Log(minV))/(math.Log(maxV)-math.Log(minV))*plotW
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">goetcd: times better than the other client (right of 1 = better)</text>`+"\n", 10)
	for _, t := range []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500} {
		if t < minV || t > maxV {
			continue
		}
		xx := x(t)
		color := "#ddd"
		if t == 1 {
			color = "#333"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", xx, top-6, xx, h-34, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s×</text>`+"\n", xx, h-18, strconv.FormatFloat(t, 'g', -1, 64))
	}
	for i, br := range bars {
		y := top + i*(barH+gap)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+barH/2+5, escape(br.label))
		if !br.ok {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#999">no result</text>`+"\n", x(1)+4, y+barH/2+5)
			continue
		}
		color := "#2e7d32"
		if !br.met {
			color = "#c62828"
		}
		x0, x1 := min(x(1), x(br.adv)), max(x(1), x(br.adv))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" opacity="0.85"/>`+"\n", x0, y, max(x1-x0, 1), barH, color)
		if br.hi > br.lo {
			// The spread over the rounds: lowest to highest.
			cy := y + barH/2
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#222" stroke-width="1.5"/>`+"\n", x(br.lo), cy, x(br.hi), cy)
			for _, e := range []float64{br.lo, br.hi} {
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#222" stroke-width="1.5"/>`+"\n", x(e), cy-5, x(e), cy+5)
			}
		}
		gx := x(br.goal)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-width="3"/>`+"\n", gx, y-3, gx, y+barH+3)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#222">%s×</text>`+"\n", max(x1, x(br.hi), x(br.goal))+6, y+barH/2+5, strconv.FormatFloat(br.adv, 'f', 2, 64))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555" font-size="11">bar: median of the rounds; thin line: lowest to highest round; green: met in every round, red: missed in one at least; tick: the target</text>`+"\n", 10, h-4)
	b.WriteString("</svg>\n")
	return b.String()
}

func escape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}
