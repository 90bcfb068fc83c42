// Package bench compares goetcd with etcd's official Go v2 client
// (go.etcd.io/etcd/client/v2) and with a raw, well-pooled net/http loop that
// decodes the same JSON (the practical limit of a Go HTTP client).
//
// The benchmarks live in the _test.go files of this package:
//
//   - BenchmarkCanned* run against an in-process canned server that answers
//     with the exact bytes etcd 3.5 sends (headers included): the client's own
//     cost of a small Get, and a recursive Get of a directory with 100,000
//     children.
//   - BenchmarkEtcd* run against a real single-member etcd 3.5 started by
//     tests/etcdtest (--unsafe-no-fsync): Sets of distinct small keys at
//     concurrency 1, 16 and 64, watch latency over sequential writes, and
//     the cost of 1,000 concurrent watchers, and 10,000 watchers on one
//     client on 10 keys and on 10,000 keys (BenchmarkEtcdWatchScale). These
//     do a fixed amount of work per iteration; run them with -benchtime=1x.
//
// BENCH_LOG=1 gives goetcd's clients a Logger on standard error (member
// health changes, for one).
//
// `make bench` runs both groups through tests/cmd/benchreport, which prints
// one table with the ratios and writes docs/benchmarks.md.
//
// Client names in benchmark names:
//
//	goetcd            this module's client with its DefaultTransport settings
//	official          go.etcd.io/etcd/client/v2 on the same tuned transport
//	official-default  go.etcd.io/etcd/client/v2 on its own DefaultTransport
//	                  settings (MaxIdleConnsPerHost 2): what users get
//	raw               net/http + encoding/json by hand, tuned transport
//	goetcd-v3         the v3 backend (package v3keys) on goetcd's transport,
//	                  against canned v3 gateway answers or the v3 store
package bench
