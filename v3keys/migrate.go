package v3keys

// Migrate: a v2 tree moved into this package's layout while its writers
// go on. The copy reads the v2 tree once (as of index X) and writes it in
// batched transactions; the follower applies every v2 event after X, each
// in one transaction that also records its index in the migration's
// marker, so that a run stopped at any point resumes exactly. The marker
// lives at <Prefix>/migrate, outside the node keys (see metaName).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/meycoin/goetcd/client"
)

// Migration phases, as MigrationMarker.Phase and MigrateProgress.Phase
// name them.
const (
	// PhaseCopy: the tree is being copied from a snapshot (a run stopped
	// in this phase copies again from a fresh snapshot).
	PhaseCopy = "copy"
	// PhaseFollow: the snapshot is in; v2 events after MigrationMarker.Index
	// are applied one by one.
	PhaseFollow = "follow"
)

// MigrateOptions are the options of Migrate. The zero value copies the
// whole v2 tree, catches up with the changes made meanwhile, and returns.
type MigrateOptions struct {
	// Root is the v2 directory to migrate ("" or "/" for the whole tree).
	// Its nodes keep their keys: /a/b in v2 is /a/b in the v3 tree.
	Root string

	// Follow keeps applying v2 changes after the copy until ctx ends;
	// Migrate then returns ctx's error with the last progress. Without it
	// Migrate returns as soon as every v2 change made before it checked
	// is applied (lag 0).
	Follow bool

	// DryRun reads both sides and reports what the copy would write
	// (MigrateProgress.KeysTotal, Puts, Deletes) without writing anything,
	// not even the marker, and without following.
	DryRun bool

	// BatchOps is the most operations one transaction of the copy or of
	// the follower holds; zero means 128, etcd's default --max-txn-ops
	// (set it to the cluster's when that is lower). A batch also stays
	// under about 1 MiB of values (etcd refuses requests over 1.5 MiB by
	// default).
	BatchOps int

	// Progress, when set, is called with the progress every
	// ProgressInterval and once when Migrate returns, from one goroutine
	// at a time.
	Progress func(MigrateProgress)

	// ProgressInterval is how often progress is reported and the lag
	// measured (a quorum read of v2's current index); zero means 1s.
	ProgressInterval time.Duration

	// Logger receives the phases, reconciliations and, at Info, each
	// progress report; nil means slog.Default(). Values never appear.
	Logger *slog.Logger
}

// MigrateProgress is where a migration stands.
type MigrateProgress struct {
	// Phase is PhaseCopy or PhaseFollow.
	Phase string
	// SnapshotIndex is the v2 index of the last snapshot copied.
	SnapshotIndex uint64
	// KeysTotal is the number of nodes (keys and directories) of that
	// snapshot; KeysCopied how many of them are in v3 (written, or found
	// there already with the same value); Puts and Deletes the v3 writes
	// the copy made (or, with DryRun, would make).
	KeysTotal, KeysCopied, Puts, Deletes int
	// EventsApplied counts the v2 events applied since Migrate started.
	EventsApplied int64
	// AppliedIndex is the v2 index of the last change applied to v3 (the
	// snapshot's, or the last event's).
	AppliedIndex uint64
	// SourceIndex is v2's current index when last measured.
	SourceIndex uint64
	// LagIndexes is SourceIndex minus the index v3 is known to be
	// complete at (0 once every change up to SourceIndex is applied);
	// Lag is how long the oldest change not yet applied has waited.
	LagIndexes uint64
	Lag        time.Duration
	// CaughtUp is set once the lag was found to be 0 (and cleared when
	// a change arrives).
	CaughtUp bool
	// Reconciles counts the copies made again because v2's event history
	// no longer held the next event (or v3 no longer matched it).
	Reconciles int
}

// MigrationMarker is what a migration records in the v3 store at
// <Prefix>/migrate: which tree it copies and how far it got.
type MigrationMarker struct {
	// Cluster is the v2 cluster's ID (X-Etcd-Cluster-Id) and Root the
	// migrated v2 directory ("/" for all).
	Cluster string `json:"cluster"`
	Root    string `json:"root"`
	// Phase is PhaseCopy or PhaseFollow.
	Phase string `json:"phase"`
	// Index is the last v2 index applied (in PhaseFollow).
	Index uint64 `json:"index"`
	// Snapshot is the index of the last snapshot copied.
	Snapshot uint64 `json:"snapshot"`
}

// ForeignDataError is Migrate's refusal to write under a v3 prefix that
// holds data a migration of the same v2 tree did not write.
type ForeignDataError struct {
	Prefix string
	// Keys is the number of keys found under the prefix (without a
	// marker), or 0 when Marker names another tree.
	Keys   int64
	Marker *MigrationMarker
	// Cluster and Root name the tree being migrated (Cluster may be empty
	// when the refusal came before v2 was read).
	Cluster, Root string
}

// Error names the prefix and what was found there.
func (e *ForeignDataError) Error() string {
	if e.Marker != nil {
		return fmt.Sprintf("v3keys: migrate: the v3 prefix %s holds a migration of cluster %s, %s, not of cluster %s, %s; refusing to write there", e.Prefix, e.Marker.Cluster, e.Marker.Root, orUnknown(e.Cluster), e.Root)
	}
	return fmt.Sprintf("v3keys: migrate: the v3 prefix %s holds %d keys that no migration wrote; refusing to write there (use an empty prefix)", e.Prefix, e.Keys)
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// errDiverged is a v2 event that does not apply to the v3 state (a lease
// that ended before v2's TTL, a write bigger than one transaction): the
// tree is copied again from a fresh snapshot.
var errDiverged = errors.New("v3keys: migrate: the v3 tree no longer matches the event")

// Migrate copies the v2 tree under opts.Root, read through from, into the
// v3 tree of to (a KeysAPI made by New), and applies every later v2 change
// (see MigrateOptions.Follow). It never writes through from.
//
// The copy is one recursive quorum read of v2 at index X, written in
// batched transactions; nodes already in v3 with the same value are not
// written again, and node keys of v3 that the snapshot does not hold are
// deleted, so a copy started again after an interruption ends with the
// snapshot's tree. TTLs become leases with the whole seconds that remain
// (rounded down); keys below an expiring directory share its lease. Then
// the v2 events after X (a recursive stream opened before the read, joined
// to a replay of v2's history) are applied in order, in transactions of
// whole events that also store the last one's index in the marker
// (<Prefix>/migrate, see MigrationMarker); a run started again resumes
// after that index, and when v2's event history no longer holds it, copies
// again from a fresh snapshot.
//
// Migrate refuses (*ForeignDataError) a v3 prefix that holds keys without a
// marker, or a marker of another cluster or root. Keys whose name starts
// with "_" are hidden from v2's listings and watches and are not migrated;
// a refresh (SetOptions.Refresh) is not reported to v2 watchers, so its
// new TTL reaches v3 only with the next copy. Indexes are v3's revisions
// in the v3 tree, not v2's. The follower writes no action key: a v3
// Watcher open meanwhile sees its writes as "set" and "delete".
func Migrate(ctx context.Context, from client.KeysAPI, to client.KeysAPI, opts MigrateOptions) (MigrateProgress, error) {
	if ctx == nil {
		return MigrateProgress{}, errNilContext
	}
	if from == nil {
		return MigrateProgress{}, &client.InvalidArgumentError{Field: "from", Reason: "nil KeysAPI"}
	}
	k, ok := to.(*keysAPI)
	if !ok {
		return MigrateProgress{}, &client.InvalidArgumentError{Field: "to", Reason: "not a KeysAPI made by v3keys.New"}
	}
	root, err := canonicalKey(opts.Root)
	if err != nil {
		return MigrateProgress{}, err
	}
	switch {
	case opts.BatchOps < 0:
		return MigrateProgress{}, &client.InvalidArgumentError{Field: "MigrateOptions.BatchOps", Reason: fmt.Sprintf("%d is negative", opts.BatchOps)}
	case opts.BatchOps == 0:
		opts.BatchOps = maxTxnOps
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &migrator{from: from, k: k, root: root, opts: opts, log: opts.Logger.With("prefix", k.l.prefix, "root", "/"+root)}
	return m.run(ctx)
}

// MigrationStatus reads the marker of a migration into the v3 tree of to
// (a KeysAPI made by New); nil when there is none.
func MigrationStatus(ctx context.Context, to client.KeysAPI) (*MigrationMarker, error) {
	k, ok := to.(*keysAPI)
	if !ok {
		return nil, &client.InvalidArgumentError{Field: "to", Reason: "not a KeysAPI made by v3keys.New"}
	}
	mk, _, err := readMarker(ctx, k)
	return mk, err
}

// migrator is one run of Migrate.
type migrator struct {
	from client.KeysAPI
	k    *keysAPI
	root string // canonical, "" for the whole tree
	opts MigrateOptions
	log  *slog.Logger

	marker    MigrationMarker // as last written (or read)
	hasMarker bool

	mu   sync.Mutex
	prog MigrateProgress
	// caughtThrough is the v2 index v3 is known to be complete at.
	caughtThrough uint64

	queue     *eventQueue
	stopWatch func()
	// replayFrom starts the replay of v2's history of the watch that
	// startWatch opened.
	replayFrom func(after uint64)
	// index is the v3 tree as the follower knows it.
	index *treeIndex
}

// run is Migrate after its arguments were checked.
func (m *migrator) run(ctx context.Context) (MigrateProgress, error) {
	mk, keys, err := readMarker(ctx, m.k)
	if err != nil {
		return MigrateProgress{}, err
	}
	switch {
	case mk == nil && keys > 0:
		return MigrateProgress{}, &ForeignDataError{Prefix: m.k.l.prefix, Keys: keys, Root: "/" + m.root}
	case mk != nil && mk.Root != "/"+m.root:
		return MigrateProgress{}, &ForeignDataError{Prefix: m.k.l.prefix, Marker: mk, Root: "/" + m.root}
	case mk != nil:
		m.marker, m.hasMarker = *mk, true
	}
	rctx, stopReports := context.WithCancel(ctx)
	reports := make(chan struct{})
	go m.reportLoop(rctx, reports)
	err = m.migrate(ctx)
	stopReports()
	<-reports
	if m.stopWatch != nil {
		m.stopWatch()
	}
	return m.finish(err)
}

// migrate copies or resumes, then follows (unless this is a dry run).
func (m *migrator) migrate(ctx context.Context) error {
	if m.hasMarker && m.marker.Phase == PhaseFollow && !m.opts.DryRun {
		m.log.Info("migrate: resuming", "index", m.marker.Index)
		m.update(func(p *MigrateProgress) {
			p.Phase, p.AppliedIndex, p.SnapshotIndex = PhaseFollow, m.marker.Index, m.marker.Snapshot
		})
		m.startWatch(ctx)
		m.replayFrom(m.marker.Index)
		var err error
		if m.index, err = m.readIndex(ctx); err != nil {
			return err
		}
	} else if err := m.copyTree(ctx); err != nil {
		return err
	}
	if m.opts.DryRun {
		return nil
	}
	return m.follow(ctx)
}

// finish reports the last progress (after the report loop ended) and
// returns it with err.
func (m *migrator) finish(err error) (MigrateProgress, error) {
	p := m.progress()
	if m.opts.Progress != nil {
		m.opts.Progress(p)
	}
	m.log.Info("migrate: stopped", progressAttrs(p)...)
	return p, err
}

// readMarker reads the marker and, when there is none, counts the keys
// under the prefix.
func readMarker(ctx context.Context, k *keysAPI) (*MigrationMarker, int64, error) {
	key, end := k.l.spaceRange()
	out, _, err := k.txn(ctx, client.RequestRead, "migrate status", txnOf(
		rangeOp(k.l.metaKey(), nil, false),
		countOp(key, end)))
	if err != nil {
		return nil, 0, err
	}
	if len(out.Responses) != 2 || out.Responses[0].ResponseRange == nil || out.Responses[1].ResponseRange == nil {
		return nil, 0, fmt.Errorf("v3keys: migrate status: %w: not the two ranges asked for", ErrNotGateway)
	}
	kvs := out.Responses[0].ResponseRange.Kvs
	if len(kvs) == 0 {
		n, err := num(out.Responses[1].ResponseRange.Count)
		return nil, n, err
	}
	var mk MigrationMarker
	if err := json.Unmarshal(kvs[0].Value, &mk); err != nil || mk.Root == "" {
		return nil, 0, fmt.Errorf("v3keys: migrate: %s%s holds no migration marker (%q); refusing to write there", k.l.prefix, metaName, truncate(string(kvs[0].Value), 80))
	}
	return &mk, 0, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// writeMarker stores mk. With fresh, it must be the first marker: the
// write fails when another run wrote one in between.
func (m *migrator) writeMarker(ctx context.Context, mk MigrationMarker, fresh bool) error {
	req := txnOf(put(m.k.l.metaKey(), markerValue(mk), 0))
	if fresh {
		req.Compare = append(req.Compare, absent(m.k.l.metaKey()))
	}
	out, _, err := m.k.txn(ctx, client.RequestIdempotent, "migrate marker", req)
	if err != nil {
		return err
	}
	if !out.Succeeded {
		return fmt.Errorf("v3keys: migrate: another migration wrote %s%s meanwhile; refusing to go on", m.k.l.prefix, metaName)
	}
	m.marker, m.hasMarker = mk, true
	return nil
}

func markerValue(mk MigrationMarker) []byte {
	b, _ := json.Marshal(mk) // a struct of strings and numbers
	return b
}

// update changes the progress under the lock.
func (m *migrator) update(f func(p *MigrateProgress)) {
	m.mu.Lock()
	f(&m.prog)
	m.mu.Unlock()
}

// progress is a copy of the progress with the lag worked out.
func (m *migrator) progress() MigrateProgress {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.prog
	done := max(p.AppliedIndex, m.caughtThrough)
	p.LagIndexes = 0
	if p.SourceIndex > done {
		p.LagIndexes = p.SourceIndex - done
	}
	if m.queue != nil {
		if at, ok := m.queue.oldest(); ok {
			p.Lag = time.Since(at)
		}
	}
	return p
}

// reportLoop measures v2's index and reports progress every interval.
func (m *migrator) reportLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(m.opts.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if m.progress().Phase == PhaseFollow {
			if idx, err := m.sourceIndex(ctx); err == nil {
				m.update(func(p *MigrateProgress) { p.SourceIndex = max(p.SourceIndex, idx) })
			}
		}
		p := m.progress()
		m.log.Info("migrate: progress", progressAttrs(p)...)
		if m.opts.Progress != nil {
			m.opts.Progress(p)
		}
	}
}

func progressAttrs(p MigrateProgress) []any {
	return []any{"phase", p.Phase, "keys_total", p.KeysTotal, "keys_copied", p.KeysCopied,
		"events_applied", p.EventsApplied, "applied_index", p.AppliedIndex, "source_index", p.SourceIndex,
		"lag_indexes", p.LagIndexes, "lag", p.Lag.Round(time.Millisecond), "caught_up", p.CaughtUp, "reconciles", p.Reconciles}
}

// probeName is the hidden name whose read gives v2's current index: a
// read of a missing key answers 100 with the index, a present one the node
// (small either way, unlike a listing of the root).
const probeName = "_goetcd_migrate_probe"

// sourceIndex is v2's current index, read with quorum.
func (m *migrator) sourceIndex(ctx context.Context) (uint64, error) {
	key := "/" + probeName
	if m.root != "" {
		key = "/" + m.root + key
	}
	r, err := m.from.Get(ctx, key, &client.GetOptions{Quorum: true})
	var ke client.Error
	switch {
	case err == nil:
		return r.Index, nil
	case errors.As(err, &ke) && ke.Index > 0:
		return ke.Index, nil
	}
	return 0, err
}

// remainingTTL is the lease TTL for a node expiring at exp: the whole
// seconds that remain at now, rounded down so that the v3 key never
// outlives the v2 one, and at least 1; 0 for no expiration.
func remainingTTL(exp *time.Time, now time.Time) int64 {
	if exp == nil || exp.IsZero() {
		return 0
	}
	return max(1, int64(exp.Sub(now)/time.Second))
}

// inRoot reports whether p is the root or below it.
func inRoot(root, p string) bool {
	return root == "" || p == root || strings.HasPrefix(p, root+"/")
}
