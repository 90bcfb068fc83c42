package model

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// SequencesEnv sets how many random sequences (TestModel) or keys
// (TestKeysRoundTrip) each property runs per server version; -rapid.checks
// or RAPID_CHECKS override it. Without either, TestModel runs
// modelSequences and TestKeysRoundTrip roundTripKeys per version, which
// keeps both within about a minute and a half of `make test`.
const SequencesEnv = "GOETCD_MODEL_SEQUENCES"

const (
	modelSequences = 1000
	roundTripKeys  = 500
)

// Key space of a sequence: 3 directories × 3 names below the sequence's own
// prefix, one of each hidden ("_"), plus the prefix itself ("").
var (
	dirNames  = []string{"a", "b", "_d"}
	leafNames = []string{"x", "y", "_h"}
	keySpace  = func() []string {
		out := []string{""}
		for _, d := range dirNames {
			out = append(out, d)
			for _, n := range leafNames {
				out = append(out, d+"/"+n)
			}
		}
		return out
	}()
	values = []string{"v1", "v2", "v3"}
)

type opKind int

const (
	opSet opKind = iota
	opCreate
	opUpdate
	opCAS
	opCAD
	opDelete
	opGet
	opCreateInOrder
	opMkdir
	numOps
)

var opNames = [...]string{"Set", "Create", "Update", "CAS", "CAD", "Delete", "Get", "CreateInOrder", "Mkdir"}

// op is one drawn operation. PrevIndex choices are resolved against the
// model when the op runs: 0 none, 1 the key's current modifiedIndex, 2 a
// wrong one.
type op struct {
	Kind      opKind
	Key       string
	Value     string
	PrevValue string
	PrevIdx   int
	Dir       bool
	Recursive bool
	Sort      bool
	TTL       time.Duration // of the writes that send one
}

// ttlChoices are the TTLs writes draw: none, the ones the client ignores
// (<= 0), and long ones (no key expires during a test), whole and not, so
// that rounding up shows: 1h+1ns is sent as 3601.
var ttlChoices = []time.Duration{0, 0, 0, -time.Second, -1, time.Hour, time.Hour + 1, 90*time.Minute + 500*time.Millisecond, 2*time.Hour - time.Millisecond}

// ttlSecs is the model's TTL rule: the seconds etcd is sent, 0 for none
// (TTL <= 0), otherwise the TTL rounded up to whole seconds.
func ttlSecs(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}

// sendsTTL reports whether the op is a write that may carry a TTL.
func (o op) sendsTTL() bool {
	switch o.Kind {
	case opSet, opCreate, opUpdate, opCAS, opCreateInOrder, opMkdir:
		return true
	}
	return false
}

func (o op) String() string {
	s := fmt.Sprintf("%s(%q", opNames[o.Kind], o.Key)
	switch o.Kind {
	case opSet, opCreate, opUpdate, opCreateInOrder:
		s += fmt.Sprintf(", %q", o.Value)
	case opCAS:
		s += fmt.Sprintf(", %q, prevValue=%q, prevIndex=%d", o.Value, o.PrevValue, o.PrevIdx)
	case opCAD:
		s += fmt.Sprintf(", prevValue=%q, prevIndex=%d", o.PrevValue, o.PrevIdx)
	case opDelete:
		s += fmt.Sprintf(", dir=%v, recursive=%v", o.Dir, o.Recursive)
	case opGet:
		s += fmt.Sprintf(", recursive=%v, sort=%v", o.Recursive, o.Sort)
	}
	if o.TTL != 0 {
		s += fmt.Sprintf(", ttl=%v", o.TTL)
	}
	return s + ")"
}

var opGen = rapid.Custom(func(t *rapid.T) op {
	o := op{
		Kind:  opKind(rapid.IntRange(0, int(numOps)-1).Draw(t, "kind")),
		Key:   rapid.SampledFrom(keySpace).Draw(t, "key"),
		Value: rapid.SampledFrom(values).Draw(t, "value"),
	}
	switch o.Kind {
	case opCAS, opCAD:
		o.PrevValue = rapid.SampledFrom(append([]string{""}, values...)).Draw(t, "prevValue")
		o.PrevIdx = rapid.IntRange(0, 2).Draw(t, "prevIndex")
		if o.PrevValue == "" && o.PrevIdx == 0 {
			o.PrevIdx = 1 // a condition is what makes it a CAS
		}
	case opDelete:
		o.Dir = rapid.Bool().Draw(t, "dir")
		o.Recursive = rapid.Bool().Draw(t, "recursive")
	case opGet:
		o.Recursive = rapid.Bool().Draw(t, "recursive")
		o.Sort = rapid.Bool().Draw(t, "sort")
	}
	if o.sendsTTL() {
		o.TTL = rapid.SampledFrom(ttlChoices).Draw(t, "ttl")
	}
	return o
})

// TestModel runs random sequences of 5–20 key operations (Set, Create,
// Update, CAS, CAD, Delete with dir/recursive, Get, CreateInOrder, Mkdir,
// the writes with TTLs of every kind) on a 3×3 key space against one
// single-member cluster per server version and against the model store,
// each sequence under its own directory; every result must agree: action,
// node (key, value, dir, indexes, TTL, listed children), previous node,
// X-Etcd-Index, for errors code, cause and index, the HTTP status (201 for
// a node created, 200 otherwise, the status of each error code), and the
// ttl each write sent (none for a TTL <= 0, else rounded up to whole
// seconds). The client goes through the contract transport, so every
// exchange is also checked against openapi.yaml.
func TestModel(t *testing.T) {
	run := runID()
	setChecks(t, modelSequences)
	for _, b := range clienttest.Backends(t) {
		s := b
		t.Run(b.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, b.Server, 1)
			tr := clienttest.NewTransport(t, nil)
			rec := &statusRecorder{CancelableTransport: tr}
			kapi, _ := b.KeysAPI(t, cl.Endpoints(), client.Config{Transport: rec, HeaderTimeoutPerRequest: 10 * time.Second})
			base := "/model/" + run
			if _, err := kapi.Set(t.Context(), base, "", &client.SetOptions{Dir: true}); err != nil {
				t.Fatal(err)
			}
			var seq, ops atomic.Int64
			var opCount [numOps]int64
			var errCodes = map[int]int{}
			start := time.Now()
			rapid.Check(t, func(rt *rapid.T) {
				seqOps := rapid.SliceOfN(opGen, 5, 20).Draw(rt, "ops")
				prefix := fmt.Sprintf("%s/%d", base, seq.Add(1))
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				m := newStore(prefix, currentIndex(ctx, rt, kapi, prefix))
				for i, o := range seqOps {
					rec.last.Store(0)
					got, gotErr := apply(ctx, kapi, m, o, false)
					status := int(rec.last.Load())
					sentTTL, _ := rec.ttl.Load().(string)
					want, wantErr := apply(ctx, kapi, m, o, true)
					if !b.V3 && o.sendsTTL() {
						wantTTL := ""
						if secs := ttlSecs(o.TTL); secs != 0 {
							wantTTL = strconv.FormatInt(secs, 10)
						}
						if sentTTL != wantTTL {
							rt.Fatalf("op %d %v under %s: sent ttl %q, the model says %q", i, o, prefix, sentTTL, wantTTL)
						}
					}
					// The v3 backend's HTTP statuses are the gateway's.
					if ws := wantStatus(o, want, wantErr); !b.V3 && status != ws {
						rt.Fatalf("op %d %v under %s: HTTP status %d, the model says %d (answer %s, error %v)", i, o, prefix, status, ws, show(got), gotErr)
					}
					ops.Add(1)
					opCount[o.Kind]++
					if wantErr != nil {
						errCodes[wantErr.Code]++
					}
					if msg := compare(got, gotErr, want, wantErr); msg != "" {
						rt.Fatalf("op %d %v under %s: %s", i, o, prefix, msg)
					}
				}
			})
			d := time.Since(start)
			var parts []string
			for k, n := range opCount {
				parts = append(parts, fmt.Sprintf("%s %d", opNames[k], n))
			}
			codes := make([]int, 0, len(errCodes))
			for c := range errCodes {
				codes = append(codes, c)
			}
			sort.Ints(codes)
			var cs []string
			for _, c := range codes {
				cs = append(cs, fmt.Sprintf("%d×%d", c, errCodes[c]))
			}
			t.Logf("%s: %d sequences (shrinking included), %d ops in %v (%.0f ops/s); ops: %s; error codes: %s; %d exchanges checked against openapi.yaml, %d violations",
				s, seq.Load(), ops.Load(), d.Round(time.Millisecond), float64(ops.Load())/d.Seconds(), strings.Join(parts, ", "), strings.Join(cs, " "), tr.Exchanges(), tr.Violations())
		})
	}
}

func runID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// currentIndex reads the store index (a Get of the not yet existing prefix
// answers 100 with it).
func currentIndex(ctx context.Context, rt *rapid.T, kapi client.KeysAPI, prefix string) uint64 {
	_, err := kapi.Get(ctx, prefix, nil)
	var e client.Error
	if !errors.As(err, &e) || e.Code != client.ErrorCodeKeyNotFound {
		rt.Fatalf("reading the index: %v", err)
	}
	return e.Index
}

// apply runs o on the model (model=true) or through the client.
func apply(ctx context.Context, kapi client.KeysAPI, m *store, o op, model bool) (*client.Response, *client.Error) {
	var prevIndex uint64
	if o.PrevIdx != 0 {
		prevIndex = m.index + 1000 // wrong
		if n := m.nodes[o.Key]; n != nil && o.PrevIdx == 1 {
			prevIndex = n.modified
		}
	}
	if model {
		secs := ttlSecs(o.TTL)
		switch o.Kind {
		case opSet:
			return m.Set(o.Key, o.Value, secs)
		case opCreate:
			return m.Create(o.Key, o.Value, secs)
		case opUpdate:
			return m.Update(o.Key, o.Value, secs)
		case opCAS:
			return m.CAS(o.Key, o.Value, o.PrevValue, prevIndex, secs)
		case opCAD:
			return m.CAD(o.Key, o.PrevValue, prevIndex)
		case opDelete:
			return m.Delete(o.Key, o.Dir, o.Recursive)
		case opGet:
			return m.Get(o.Key, o.Recursive)
		case opCreateInOrder:
			return m.CreateInOrder(o.Key, o.Value, secs)
		case opMkdir:
			return m.Mkdir(o.Key, secs)
		}
		panic(o.Kind)
	}
	key := m.abs(o.Key)
	var r *client.Response
	var err error
	switch o.Kind {
	case opSet:
		r, err = kapi.Set(ctx, key, o.Value, &client.SetOptions{TTL: o.TTL})
	case opCreate:
		if o.TTL == 0 {
			r, err = kapi.Create(ctx, key, o.Value)
		} else {
			r, err = kapi.Set(ctx, key, o.Value, &client.SetOptions{PrevExist: client.PrevNoExist, TTL: o.TTL})
		}
	case opUpdate:
		if o.TTL == 0 {
			r, err = kapi.Update(ctx, key, o.Value)
		} else {
			r, err = kapi.Set(ctx, key, o.Value, &client.SetOptions{PrevExist: client.PrevExist, TTL: o.TTL})
		}
	case opCAS:
		r, err = kapi.Set(ctx, key, o.Value, &client.SetOptions{PrevValue: o.PrevValue, PrevIndex: prevIndex, TTL: o.TTL})
	case opCAD:
		r, err = kapi.Delete(ctx, key, &client.DeleteOptions{PrevValue: o.PrevValue, PrevIndex: prevIndex})
	case opDelete:
		r, err = kapi.Delete(ctx, key, &client.DeleteOptions{Dir: o.Dir, Recursive: o.Recursive})
	case opGet:
		r, err = kapi.Get(ctx, key, &client.GetOptions{Recursive: o.Recursive, Sort: o.Sort})
	case opCreateInOrder:
		r, err = kapi.CreateInOrder(ctx, key, o.Value, &client.CreateInOrderOptions{TTL: o.TTL})
	case opMkdir:
		r, err = kapi.Set(ctx, key, "", &client.SetOptions{Dir: true, TTL: o.TTL})
	}
	if err != nil {
		var e client.Error
		if errors.As(err, &e) {
			return nil, &e
		}
		return nil, &client.Error{Code: -1, Message: err.Error()}
	}
	return r, nil
}

// statusRecorder keeps the HTTP status of the last answer, which Response
// does not carry, and the ttl field of the last form sent ("" for none).
type statusRecorder struct {
	client.CancelableTransport
	last atomic.Int64
	ttl  atomic.Value // string
}

func (r *statusRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	ttl := ""
	if req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			b, _ := io.ReadAll(body)
			body.Close()
			if form, err := url.ParseQuery(string(b)); err == nil {
				ttl = form.Get("ttl")
			}
		}
	}
	r.ttl.Store(ttl)
	resp, err := r.CancelableTransport.RoundTrip(req)
	if err == nil {
		r.last.Store(int64(resp.StatusCode))
	}
	return resp, err
}

// wantStatus is the HTTP status the server answers with: 201 when a node
// was created (create, in-order create, a set or mkdir of a key that did
// not exist), 200 for other successes, and the status fixed for each error
// code.
func wantStatus(o op, want *client.Response, wantErr *client.Error) int {
	if wantErr != nil {
		return map[int]int{100: 404, 101: 412, 102: 403, 104: 400, 105: 412, 108: 403}[wantErr.Code]
	}
	switch o.Kind {
	case opCreate, opCreateInOrder:
		return http.StatusCreated
	case opSet, opMkdir:
		if want.PrevNode == nil {
			return http.StatusCreated
		}
	}
	return http.StatusOK
}

// compare says how the server's result differs from the model's, or "".
func compare(got *client.Response, gotErr *client.Error, want *client.Response, wantErr *client.Error) string {
	switch {
	case gotErr != nil && wantErr != nil:
		if gotErr.Code != wantErr.Code || gotErr.Cause != wantErr.Cause || gotErr.Index != wantErr.Index {
			return fmt.Sprintf("server error %v, model error %v", *gotErr, *wantErr)
		}
		return ""
	case gotErr != nil:
		return fmt.Sprintf("server error %v, model answer %s", *gotErr, show(want))
	case wantErr != nil:
		return fmt.Sprintf("server answer %s, model error %v", show(got), *wantErr)
	}
	g := &client.Response{Action: got.Action, Node: norm(got.Node), PrevNode: norm(got.PrevNode), Index: got.Index}
	w := &client.Response{Action: want.Action, Node: norm(want.Node), PrevNode: norm(want.PrevNode), Index: want.Index}
	alignTTL(g.Node, w.Node)
	alignTTL(g.PrevNode, w.PrevNode)
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("server answer %s\nmodel answer  %s", show(g), show(w))
	}
	return ""
}

// norm sorts children and drops what the model does not hold (the
// expiration instant; the TTL stays).
func norm(n *client.Node) *client.Node {
	if n == nil {
		return nil
	}
	out := &client.Node{Key: n.Key, Dir: n.Dir, Value: n.Value, CreatedIndex: n.CreatedIndex, ModifiedIndex: n.ModifiedIndex, TTL: n.TTL}
	for _, c := range n.Nodes {
		out.Nodes = append(out.Nodes, norm(c))
	}
	sort.Sort(out.Nodes)
	return out
}

// alignTTL lets the server's TTLs count down: etcd shows the seconds
// left, rounded up, so a node read a while after its write shows up to a
// few seconds less than the model's TTL, which is the ttl sent (checked
// exactly on the wire). Both trees are normed (children sorted).
func alignTTL(got, want *client.Node) {
	if got == nil || want == nil {
		return
	}
	if want.TTL > 0 && got.TTL <= want.TTL && got.TTL >= want.TTL-ttlSlack {
		got.TTL = want.TTL
	}
	for i := range min(len(got.Nodes), len(want.Nodes)) {
		alignTTL(got.Nodes[i], want.Nodes[i])
	}
}

// ttlSlack is how many seconds a node's TTL may have counted down between
// its write and a read in the same sequence.
const ttlSlack = 30

func show(r *client.Response) string {
	if r == nil {
		return "<nil>"
	}
	return fmt.Sprintf("{%s index=%d node=%s prev=%s}", r.Action, r.Index, showNode(r.Node), showNode(r.PrevNode))
}

func showNode(n *client.Node) string {
	if n == nil {
		return "<nil>"
	}
	s := n.Key
	if n.Dir {
		s += "/"
	} else {
		s += "=" + strconv.Quote(n.Value)
	}
	s += fmt.Sprintf("[%d,%d]", n.CreatedIndex, n.ModifiedIndex)
	if len(n.Nodes) > 0 {
		var cs []string
		for _, c := range n.Nodes {
			cs = append(cs, showNode(c))
		}
		s += "{" + strings.Join(cs, " ") + "}"
	}
	return s
}
