// Package store is a small key-value store over etcd's v2 API, written the
// way third-party stores use go.etcd.io/etcd/client/v2: a TTL lock kept
// alive by refreshes, a compare-and-swap loop, a recursive watch and
// directory listings, with etcd's errors told apart by type assertions on
// etcd.Error.
//
// ../goetcdstore is this file with only the import switched to
// github.com/meycoin/goetcd/client (`go test ./dropin/ -run
// TestGoetcdStoreIsTheStore -update` remakes it; that test fails when
// anything else differs).
package store

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	etcd "go.etcd.io/etcd/client/v2"

	"github.com/meycoin/goetcd/tests/dropin/kv"
)

// Store keeps its keys below one root directory.
type Store struct {
	client etcd.Client
	keys   etcd.KeysAPI
	root   string
	close  func()
}

var _ kv.Store = (*Store)(nil)

// New connects to endpoints; every key lives below root.
func New(endpoints []string, transport kv.Transport, closeIdle func(), root string) (*Store, error) {
	c, err := etcd.New(etcd.Config{Endpoints: endpoints, Transport: transport})
	if err != nil {
		return nil, err
	}
	return &Store{client: c, keys: etcd.NewKeysAPI(c), root: "/" + strings.Trim(root, "/"), close: closeIdle}, nil
}

// Close releases the store's idle connections.
func (s *Store) Close() { s.close() }

func (s *Store) path(key string) string { return s.root + "/" + strings.Trim(key, "/") }

func (s *Store) rel(key string) string {
	return strings.TrimPrefix(strings.TrimPrefix(key, s.root), "/")
}

// convert maps etcd's errors to the store's.
func convert(err error) error {
	if etcdErr, ok := err.(etcd.Error); ok {
		switch etcdErr.Code {
		case etcd.ErrorCodeKeyNotFound:
			return kv.ErrKeyNotFound
		case etcd.ErrorCodeTestFailed:
			return kv.ErrKeyModified
		case etcd.ErrorCodeNodeExist:
			return kv.ErrKeyExists
		}
	}
	return err
}

// Put writes a value with a TTL (<= 0: none).
func (s *Store) Put(ctx context.Context, key, value string, ttl time.Duration) error {
	_, err := s.keys.Set(ctx, s.path(key), value, &etcd.SetOptions{TTL: ttl})
	return convert(err)
}

// Get reads a key.
func (s *Store) Get(ctx context.Context, key string) (*kv.Pair, error) {
	resp, err := s.keys.Get(ctx, s.path(key), &etcd.GetOptions{Quorum: true})
	if err != nil {
		return nil, convert(err)
	}
	return &kv.Pair{Key: key, Value: resp.Node.Value, LastIndex: resp.Node.ModifiedIndex}, nil
}

// List gives every key below dir, sorted.
func (s *Store) List(ctx context.Context, dir string) ([]*kv.Pair, error) {
	resp, err := s.keys.Get(ctx, s.path(dir), &etcd.GetOptions{Recursive: true, Sort: true, Quorum: true})
	if err != nil {
		return nil, convert(err)
	}
	var out []*kv.Pair
	var walk func(n *etcd.Node)
	walk = func(n *etcd.Node) {
		if !n.Dir {
			out = append(out, &kv.Pair{Key: s.rel(n.Key), Value: n.Value, LastIndex: n.ModifiedIndex})
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	for _, c := range resp.Node.Nodes {
		walk(c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// AtomicPut writes key if it is still as prev saw it (nil: absent).
func (s *Store) AtomicPut(ctx context.Context, key, value string, prev *kv.Pair) (*kv.Pair, error) {
	opts := &etcd.SetOptions{PrevExist: etcd.PrevNoExist}
	if prev != nil {
		opts = &etcd.SetOptions{PrevIndex: prev.LastIndex, PrevExist: etcd.PrevExist}
	}
	resp, err := s.keys.Set(ctx, s.path(key), value, opts)
	if err != nil {
		return nil, convert(err)
	}
	return &kv.Pair{Key: key, Value: value, LastIndex: resp.Node.ModifiedIndex}, nil
}

// AtomicDelete deletes key if it is still at prev's index.
func (s *Store) AtomicDelete(ctx context.Context, key string, prev *kv.Pair) error {
	_, err := s.keys.Delete(ctx, s.path(key), &etcd.DeleteOptions{PrevIndex: prev.LastIndex})
	return convert(err)
}

// DeleteTree removes dir recursively.
func (s *Store) DeleteTree(ctx context.Context, dir string) error {
	_, err := s.keys.Delete(ctx, s.path(dir), &etcd.DeleteOptions{Recursive: true})
	return convert(err)
}

// Increment adds 1 to a counter with a compare-and-swap loop.
func (s *Store) Increment(ctx context.Context, key string) (int, int, error) {
	for retries := 0; ; retries++ {
		prev, err := s.Get(ctx, key)
		n := 0
		switch {
		case err == nil:
			if n, err = strconv.Atoi(prev.Value); err != nil {
				return 0, retries, err
			}
		case errors.Is(err, kv.ErrKeyNotFound):
			prev = nil
		default:
			return 0, retries, err
		}
		_, err = s.AtomicPut(ctx, key, strconv.Itoa(n+1), prev)
		switch {
		case err == nil:
			return n + 1, retries, nil
		case errors.Is(err, kv.ErrKeyModified), errors.Is(err, kv.ErrKeyExists):
			continue
		default:
			return 0, retries, err
		}
	}
}

// WatchTree reports every change below dir from now on.
func (s *Store) WatchTree(ctx context.Context, dir string) (<-chan string, error) {
	// Start after the current index, so that no change made once
	// WatchTree has returned is missed.
	var after uint64
	resp, err := s.keys.Get(ctx, s.path(dir), nil)
	switch etcdErr, ok := err.(etcd.Error); {
	case err == nil:
		after = resp.Index
	case ok && etcdErr.Code == etcd.ErrorCodeKeyNotFound:
		after = etcdErr.Index
	default:
		return nil, err
	}
	w := s.keys.Watcher(s.path(dir), &etcd.WatcherOptions{AfterIndex: after, Recursive: true})
	ch := make(chan string)
	go func() {
		defer close(ch)
		for {
			resp, err := w.Next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					select {
					case ch <- "error " + err.Error():
					case <-ctx.Done():
					}
				}
				return
			}
			select {
			case ch <- resp.Action + " " + s.rel(resp.Node.Key) + "=" + resp.Node.Value:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// lock is a TTL lock: the key exists while some store holds it.
type lock struct {
	s    *Store
	key  string
	ttl  time.Duration
	mu   sync.Mutex
	last uint64 // modified index of the lock key after our last write
	stop chan struct{}
	done chan struct{}
}

// NewLock makes a lock on key.
func (s *Store) NewLock(key string, ttl time.Duration) kv.Lock {
	return &lock{s: s, key: s.path(key), ttl: ttl}
}

// Lock takes the lock, waiting while another store holds it.
func (l *lock) Lock(ctx context.Context) error {
	for {
		resp, err := l.s.keys.Set(ctx, l.key, "held", &etcd.SetOptions{TTL: l.ttl, PrevExist: etcd.PrevNoExist})
		if err == nil {
			l.last = resp.Node.ModifiedIndex
			l.stop, l.done = make(chan struct{}), make(chan struct{})
			go l.hold()
			return nil
		}
		if etcdErr, ok := err.(etcd.Error); ok && etcdErr.Code != etcd.ErrorCodeNodeExist {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Someone holds it: wait until it is gone.
		if err := l.waitRelease(ctx); err != nil {
			return err
		}
	}
}

// waitRelease returns once the lock key was deleted or expired.
func (l *lock) waitRelease(ctx context.Context) error {
	resp, err := l.s.keys.Get(ctx, l.key, nil)
	if err != nil {
		if etcd.IsKeyNotFound(err) {
			return nil
		}
		return err
	}
	w := l.s.keys.Watcher(l.key, &etcd.WatcherOptions{AfterIndex: resp.Index})
	for {
		ev, err := w.Next(ctx)
		if err != nil {
			return err
		}
		switch ev.Action {
		case "delete", "expire", "compareAndDelete":
			return nil
		}
	}
}

// hold keeps the lock alive, refreshing its TTL every third of it.
func (l *lock) hold() {
	defer close(l.done)
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), l.ttl)
			resp, err := l.s.keys.Set(ctx, l.key, "", &etcd.SetOptions{TTL: l.ttl, Refresh: true, PrevExist: etcd.PrevExist})
			cancel()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.last = resp.Node.ModifiedIndex
			l.mu.Unlock()
		}
	}
}

// stopHolding ends the refreshes.
func (l *lock) stopHolding() {
	if l.stop != nil {
		close(l.stop)
		<-l.done
		l.stop = nil
	}
}

// Unlock stops the refreshes and deletes the key if it is still ours.
func (l *lock) Unlock(ctx context.Context) error {
	l.stopHolding()
	l.mu.Lock()
	last := l.last
	l.mu.Unlock()
	_, err := l.s.keys.Delete(ctx, l.key, &etcd.DeleteOptions{PrevIndex: last})
	return convert(err)
}

// Abandon stops the refreshes and leaves the key to expire.
func (l *lock) Abandon() { l.stopHolding() }

// TTL is the lock key's TTL as etcd shows it.
func (l *lock) TTL(ctx context.Context) (int64, error) {
	resp, err := l.s.keys.Get(ctx, l.key, nil)
	if err != nil {
		return 0, convert(err)
	}
	return resp.Node.TTL, nil
}
