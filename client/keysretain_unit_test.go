package client

// What a node kept from a large listing keeps alive, and the decoder's
// speed on that listing.

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
)

// bigListing is the answer to a recursive Get of a directory of n keys, in
// etcd's field order (the canned big Get of the benchmarks).
func bigListing(n int) []byte {
	var b bytes.Buffer
	b.Grow(n * 90)
	b.WriteString(`{"action":"get","node":{"key":"/big","dir":true,"nodes":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"key":"/big/key-%06d","value":"value-%06d","modifiedIndex":%d,"createdIndex":%d}`, i, i, 5+i, 5+i)
	}
	b.WriteString(`],"modifiedIndex":4,"createdIndex":4}}` + "\n")
	return b.Bytes()
}

// settledHeap is the live heap once collections have freed what they can
// (two cycles: the decoder pool keeps its victims for one).
func settledHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// raceDetector is set when the tests run with -race (race_test.go).
var raceDetector bool

// maxRetainedPerNode bounds what one node kept from a large listing keeps
// reachable besides itself: its slab of nodes, their strings and the
// chunks those lie in.
const maxRetainedPerNode = 16 << 10

// Keeping one node of a large listing must not keep the listing, or a
// large part of it, alive. Ten listings of 100,000 keys are decoded (from
// memory and from a reader) and one node of each kept; the heap with those
// ten nodes is compared with the heap without them.
func TestRetainedNodeKeepsLittleAlive(t *testing.T) {
	if testing.Short() || raceDetector {
		t.Skip("decodes twenty listings of 100,000 keys: slow under -race or -short (make test runs it without)")
	}
	body := bigListing(100_000)
	const listings = 10
	for _, streamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("streamed=%v", streamed), func(t *testing.T) {
			kept := make([]*Node, listings)
			for i := range kept {
				var r *Response
				var err error
				if streamed {
					var d *keysDecoder
					r, d, err = decodeFrom(bytes.NewReader(body), 0)
					d.release()
				} else {
					r, err = decodeKeysBody(body)
				}
				if err != nil {
					t.Fatal(err)
				}
				kept[i] = r.Node.Nodes[(i*7919+4999)%len(r.Node.Nodes)]
			}
			with := settledHeap()
			for i, n := range kept {
				if want := fmt.Sprintf("/big/key-%06d", (i*7919+4999)%100_000); n.Key != want {
					t.Fatalf("kept node %d has key %q, want %q", i, n.Key, want)
				}
			}
			clear(kept)
			without := settledHeap()
			perNode := (int64(with) - int64(without)) / listings
			t.Logf("one node of a 100,000-key listing keeps %d bytes reachable (%d listings: heap %d with the nodes, %d without)", perNode, listings, with, without)
			if perNode > maxRetainedPerNode {
				t.Fatalf("one node of a 100,000-key listing keeps %d bytes reachable; want at most %d", perNode, maxRetainedPerNode)
			}
		})
	}
}

// BenchmarkDecodeBigListing is the decoder alone on the 100,000-key listing.
func BenchmarkDecodeBigListing(b *testing.B) {
	body := bigListing(100_000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := decodeKeysBody(body)
		if err != nil || len(r.Node.Nodes) != 100_000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBigListingStreamed is the decoder alone on the
// 100,000-key listing read from a reader, as a Get reads its body.
func BenchmarkDecodeBigListingStreamed(b *testing.B) {
	body := bigListing(100_000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r, d, err := decodeFrom(bytes.NewReader(body), 0)
		if err != nil || len(r.Node.Nodes) != 100_000 {
			b.Fatal(err)
		}
		d.release()
	}
}
