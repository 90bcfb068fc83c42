package main

import (
	"fmt"
	"strings"
	"testing"
)

// benchOutput writes benchmark output as the test binary prints it, one
// "round: n" line before each round's group.
type benchOutput struct{ strings.Builder }

func (o *benchOutput) round(n int) { fmt.Fprintf(o, "round: %d\n", n) }

// line writes one result; kv alternates values and units.
func (o *benchOutput) line(bench, client string, kv ...any) {
	fmt.Fprintf(o, "Benchmark%s/client=%s-2 \t 1000", bench, client)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(o, "\t %v %v", kv[i], kv[i+1])
	}
	o.WriteString("\n")
}

// synthetic is three rounds in which:
//   - goetcd's small-Get allocations are 0.50×, 0.55× and 0.70× the official
//     client's: the median (0.55×) meets ≤ 0.6×, round 3 does not;
//   - goetcd's small-Get CPU minus the floor's of the same round is 6, 10
//     and 5 µs (the medians' difference is 6 µs, under the 8 µs limit);
//   - Sets at c=64 are 1.00×, 1.10× and 0.99× the raw loop's;
//   - the 10,000-watcher benchmark runs in round 1 only.
func synthetic() string {
	var o benchOutput
	goetcdCPU := []float64{60000, 70000, 50000}
	floorCPU := []float64{54000, 60000, 45000}
	goetcdAllocs := []float64{50, 55, 70}
	goetcdSets := []float64{1000, 1100, 990}
	for r := 1; r <= 3; r++ {
		i := r - 1
		o.round(r)
		o.line("CannedSmallGet", "goetcd", 61000, "ns/op", goetcdCPU[i], "cpu-ns/op", 4000, "B/op", goetcdAllocs[i], "allocs/op")
		o.line("CannedSmallGet", "official", 70000, "ns/op", 75000, "cpu-ns/op", 7000, "B/op", 100, "allocs/op")
		o.line("CannedSmallGet", "raw", 60000, "ns/op", 65000, "cpu-ns/op", 5000, "B/op", 70, "allocs/op")
		o.line("CannedSmallGetFloor", "transport", 40000, "ns/op", floorCPU[i], "cpu-ns/op", 3500, "B/op", 50, "allocs/op")
		o.round(r)
		o.line("EtcdSet/c=64", "goetcd", 1e6, "ns/op", goetcdSets[i], "ops/s", 64, "conns", 60000, "cpu-ns/set")
		o.line("EtcdSet/c=64", "official", 1e6, "ns/op", 950, "ops/s", 64, "conns", 66000, "cpu-ns/set")
		o.line("EtcdSet/c=64", "raw", 1e6, "ns/op", 1000, "ops/s", 64, "conns", 59000, "cpu-ns/set")
		if r == 1 {
			o.round(r)
			o.line("EtcdWatchScale/keys=10", "goetcd", 5e8, "ns/op", 10, "polls", 44.7, "mem-MiB")
			o.line("EtcdWatchScale/keys=10", "official", 4e9, "ns/op", 10000, "polls", 346.1, "mem-MiB")
		}
	}
	return o.String()
}

func verdictOf(t *testing.T, rep *report, text string) verdict {
	t.Helper()
	for _, v := range rep.verdicts {
		if strings.HasPrefix(v.t.text, text) {
			return v
		}
	}
	t.Fatalf("no target %q", text)
	return verdict{}
}

func TestParseRounds(t *testing.T) {
	res := parse([]byte(synthetic()))
	if got := res.rounds(); got != 3 {
		t.Fatalf("rounds = %d, want 3", got)
	}
	got := res.values("CannedSmallGetFloor", "transport", "cpu-ns/op")
	want := map[int]float64{1: 54000, 2: 60000, 3: 45000}
	if len(got) != len(want) {
		t.Fatalf("floor CPU per round = %v, want %v", got, want)
	}
	for r, w := range want {
		if got[r] != w {
			t.Errorf("floor CPU of round %d = %v, want %v", r, got[r], w)
		}
	}
	if got := res.values("EtcdWatchScale/keys=10", "goetcd", "polls"); len(got) != 1 || got[1] != 10 {
		t.Errorf("watch-scale polls = %v, want round 1 only", got)
	}
}

func TestWorstRoundVerdict(t *testing.T) {
	rep := build(parse([]byte(synthetic())))

	allocs := verdictOf(t, rep, "Small Get: allocs/op ≤ 0.6× official")
	if !allocs.ok || allocs.met {
		t.Errorf("allocs target: ok %v met %v; want ok and missed (round 3 is 0.70×)", allocs.ok, allocs.met)
	}
	if allocs.median != 0.55 || allocs.min != 0.5 || allocs.max != 0.7 {
		t.Errorf("allocs spread %v – %v – %v, want 0.5 – 0.55 – 0.7", allocs.min, allocs.median, allocs.max)
	}
	if allocs.worstRound != 3 || allocs.worst != 0.7 {
		t.Errorf("allocs worst: round %d %v, want round 3 0.7", allocs.worstRound, allocs.worst)
	}

	// At least: the lowest round is the worst.
	sets := verdictOf(t, rep, "Sets, c=64: ops/s ≥ 1.0× raw")
	if sets.met || sets.worstRound != 3 || sets.worst != 0.99 {
		t.Errorf("Sets vs raw: met %v, worst round %d %v; want missed in round 3 at 0.99", sets.met, sets.worstRound, sets.worst)
	}
	if sets.median != 1.0 {
		t.Errorf("Sets vs raw median %v, want 1.0 (met at the median)", sets.median)
	}

	// Every round meets it.
	raw := verdictOf(t, rep, "Small Get: CPU per op ≤ 1.2× raw")
	if !raw.met {
		t.Errorf("CPU vs raw missed (max %v), want met", raw.max)
	}
	conns := verdictOf(t, rep, "Sets, c=64: TCP connections opened ≤ 64")
	if !conns.met || conns.worst != 64 {
		t.Errorf("connections: met %v worst %v, want met at 64", conns.met, conns.worst)
	}

	// Ran in round 1 only: judged over that round.
	polls := verdictOf(t, rep, "10,000 watchers on 10 keys: long polls open ≤ 10")
	if !polls.ok || !polls.met || len(polls.rounds) != 1 || polls.worstRound != 1 {
		t.Errorf("polls: ok %v met %v rounds %v; want met over round 1", polls.ok, polls.met, polls.rounds)
	}
	if got, want := polls.worstText(3), "round 1 (1 of 3 rounds ran it)"; got != want {
		t.Errorf("polls worst text %q, want %q", got, want)
	}
	// No watch latency in the output: no result, missed.
	if p50 := verdictOf(t, rep, "Watch: write-to-event p50"); p50.ok || p50.met {
		t.Errorf("watch p50 without results: ok %v met %v", p50.ok, p50.met)
	}
}

func TestFloorTargetPerRound(t *testing.T) {
	rep := build(parse([]byte(synthetic())))
	v := verdictOf(t, rep, "Small Get: client CPU above net/http's floor")
	want := map[int]float64{1: 6000, 2: 10000, 3: 5000}
	for r, w := range want {
		if v.rounds[r] != w {
			t.Errorf("round %d: CPU above the floor %v, want %v", r, v.rounds[r], w)
		}
	}
	if v.met || v.worstRound != 2 || v.median != 6000 {
		t.Errorf("floor target: met %v worst round %d median %v; want missed in round 2, median 6000", v.met, v.worstRound, v.median)
	}

	// The same medians of each side, paired differently over the rounds:
	// 7 µs above the floor in every round, met.
	var o benchOutput
	for r, c := range [][2]float64{{70000, 63000}, {60000, 53000}, {50000, 43000}} {
		o.round(r + 1)
		o.line("CannedSmallGet", "goetcd", 1, "ns/op", c[0], "cpu-ns/op", 56, "allocs/op")
		o.line("CannedSmallGetFloor", "transport", 1, "ns/op", c[1], "cpu-ns/op", 50, "allocs/op")
	}
	v = verdictOf(t, build(parse([]byte(o.String()))), "Small Get: client CPU above net/http's floor")
	if !v.met || v.min != 7000 || v.max != 7000 {
		t.Errorf("floor target: met %v, %v – %v; want met at 7000 in every round", v.met, v.min, v.max)
	}
	if got, want := v.spread(func(s string) string { return "[" + s + "]" }), "7.0 µs – 7.0 µs – [7.0 µs]"; got != want {
		t.Errorf("spread %q, want %q", got, want)
	}

	// Without the floor, no result, and the floor is named as missing.
	var nf benchOutput
	nf.round(1)
	nf.line("CannedSmallGet", "goetcd", 1, "ns/op", 60000, "cpu-ns/op", 56, "allocs/op")
	rep = build(parse([]byte(nf.String())))
	if v := verdictOf(t, rep, "Small Get: client CPU above net/http's floor"); v.ok || v.met {
		t.Errorf("floor target without a floor: ok %v met %v", v.ok, v.met)
	}
	if !strings.Contains(strings.Join(rep.missing, ","), floorBench) {
		t.Errorf("missing %v does not name %s", rep.missing, floorBench)
	}
}

func TestSpreadText(t *testing.T) {
	raw := []byte(synthetic())
	res := parse(raw)
	rep := build(res)
	e := env{rounds: res.rounds(), cores: 2}

	text := rep.text(e)
	lines := strings.Split(text, "\n")
	for _, want := range []struct{ target, mark, spread, worst string }{
		{"Small Get: allocs/op ≤ 0.6× official", "MISSED", "0.50× – 0.55× – [0.70×]", "worst: round 3"},
		{"Sets, c=64: ops/s ≥ 1.0× raw", "MISSED", "[0.99×] – 1.00× – 1.10×", "worst: round 3"},
		{"Small Get: client CPU above net/http's floor ≤ 8 µs per Get", "MISSED", "5.0 µs – 6.0 µs – [10.0 µs]", "worst: round 2"},
		{"Small Get: CPU per op ≤ 1.2× raw", "MET", "0.77× – 0.92× – [1.08×]", "worst: round 2"},
		{"10,000 watchers on 10 keys: long polls open ≤ 10", "MET", "[10]", "worst: round 1 (1 of 3 rounds ran it)"},
	} {
		found := false
		for _, l := range lines {
			if !strings.Contains(l, want.target) {
				continue
			}
			found = true
			f := strings.TrimSpace(l)
			if !strings.HasPrefix(f, want.mark+" ") || !strings.Contains(l, want.spread) || !strings.HasSuffix(l, want.worst) {
				t.Errorf("text line %q, want %s, %q, %q", l, want.mark, want.spread, want.worst)
			}
		}
		if !found {
			t.Errorf("text lacks a line for %q", want.target)
		}
	}
	if !strings.Contains(text, " targets met in every round.") {
		t.Errorf("text lacks the count of targets met in every round:\n%s", text)
	}

	md := rep.markdown(e, "benchmarks.svg", raw)
	for _, want := range []string{
		"| Small Get: allocs/op ≤ 0.6× official | 0.50× – 0.55× – **0.70×** | round 3 | **missed** |",
		"| Sets, c=64: ops/s ≥ 1.0× raw | **0.99×** – 1.00× – 1.10× | round 3 | **missed** |",
		"| Small Get: client CPU above net/http's floor ≤ 8 µs per Get | 5.0 µs – 6.0 µs – **10.0 µs** | round 2 | **missed** |",
		"| Small Get: CPU per op ≤ 1.2× raw |",
		"| 10,000 watchers on 10 keys: long polls open ≤ 10 | **10** | round 1 (1 of 3 rounds ran it) | met |",
		"targets met in every round of this run.",
		// The floor's budget, from the run's numbers: 8 µs above a
		// median floor of 54 µs; round 2's 70 against 60.
		"may take 8.0 µs in every round, so 62.0 µs per Get in all",
		"10.0 µs in round 2 (70.0 µs against that round's floor of 60.0 µs), 2.0 µs over",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	met := 0
	for _, v := range rep.verdicts {
		if v.met {
			met++
		}
	}
	if want := fmt.Sprintf("%d of %d targets met in every round of this run.", met, len(targets)); !strings.Contains(md, want) {
		t.Errorf("markdown lacks %q", want)
	}
}

func TestChartRange(t *testing.T) {
	rep := build(parse([]byte(synthetic())))
	svg := rep.svg()
	if !strings.Contains(svg, "Small Get allocs vs official") {
		t.Fatal("chart lacks the allocations bar")
	}
	// One range line and two end ticks per target with a spread: the
	// allocations, small-Get CPU vs raw and Sets vs raw (three rounds
	// each) and Sets vs the official client's defaults, which has no
	// results here.
	if n := strings.Count(svg, `stroke="#222" stroke-width="1.5"`); n != 3*3 {
		t.Errorf("chart has %d range strokes, want 9", n)
	}
}

// TestBareContext checks the watch yardstick's paragraph: per round, what
// 0.9× the official client's p50 leaves above the bare reader, its worst
// round, and each client's distance to the bare reader.
func TestBareContext(t *testing.T) {
	var o benchOutput
	official := []float64{300, 320, 280}
	bare := []float64{255, 280, 240} // 0.85×, 0.875×, 0.857×
	own := []float64{265, 291, 249}  // 10, 11, 9 µs above
	raw := []float64{285, 305, 265}  // 30, 25, 25 µs above
	for r := 1; r <= 3; r++ {
		o.round(r)
		o.line("EtcdWatchLatency", "goetcd", 1, "ns/op", own[r-1], "p50-us")
		o.line("EtcdWatchLatency", "official", 1, "ns/op", official[r-1], "p50-us")
		o.line("EtcdWatchLatency", "bare", 1, "ns/op", bare[r-1], "p50-us")
		o.line("EtcdWatchLatency", "raw", 1, "ns/op", raw[r-1], "p50-us")
	}
	got := build(parse([]byte(o.String()))).bareContext()
	// Left above the bare reader: 270-255 = 15, 288-280 = 8, 252-240 = 12.
	for _, want := range []string{"0.85× – 0.86× – 0.88×", "12.0 µs above the bare reader at the median of the rounds and 8.0 µs in round 2", "goetcd 10.0 µs, the raw net/http loop 25.0 µs, the official client 40.0 µs."} {
		if !strings.Contains(got, want) {
			t.Errorf("bareContext = %q, want it to hold %q", got, want)
		}
	}
	if got := build(parse([]byte(synthetic()))).bareContext(); got != "" {
		t.Errorf("bareContext without a watch benchmark = %q, want none", got)
	}
}
