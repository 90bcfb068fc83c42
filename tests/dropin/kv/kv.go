// Package kv is the client-independent face of the third-party-style store
// in ../store: the types and errors its callers see, and the Store
// interface. The store's source is written once against etcd's
// go.etcd.io/etcd/client/v2; ../goetcdstore is the same source with only the
// import switched to github.com/meycoin/goetcd/client. Both satisfy Store,
// so one scenario drives both and their results can be compared.
package kv

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Pair is a key (relative to the store's root), its value and its
// modification index.
type Pair struct {
	Key       string
	Value     string
	LastIndex uint64
}

// Errors the store maps etcd's answers to.
var (
	ErrKeyNotFound = errors.New("kv: key not found")
	ErrKeyModified = errors.New("kv: key was modified")
	ErrKeyExists   = errors.New("kv: key exists")
)

// Lock is a distributed lock held by one Store at a time.
type Lock interface {
	// Lock blocks until the lock is held or ctx ends. While held, the lock
	// is kept alive (its TTL refreshed) until Unlock or Abandon.
	Lock(ctx context.Context) error
	// Unlock releases a held lock.
	Unlock(ctx context.Context) error
	// Abandon stops keeping the lock alive without releasing it, as a
	// crashed holder would: the lock goes when its TTL runs out.
	Abandon()
	// TTL is the TTL etcd shows on the lock key while it is held, in
	// seconds (read after the lock was taken).
	TTL(ctx context.Context) (int64, error)
}

// Store is what the store offers its callers.
type Store interface {
	// Put writes a value; a ttl <= 0 means none.
	Put(ctx context.Context, key, value string, ttl time.Duration) error
	// Get reads a key (ErrKeyNotFound when it is missing).
	Get(ctx context.Context, key string) (*Pair, error)
	// List gives every key below dir, at any depth, sorted.
	List(ctx context.Context, dir string) ([]*Pair, error)
	// AtomicPut writes key if it is still at prev's index (prev nil: if it
	// does not exist); ErrKeyModified / ErrKeyExists otherwise.
	AtomicPut(ctx context.Context, key, value string, prev *Pair) (*Pair, error)
	// AtomicDelete deletes key if it is still at prev's index.
	AtomicDelete(ctx context.Context, key string, prev *Pair) error
	// DeleteTree removes dir and everything below it.
	DeleteTree(ctx context.Context, dir string) error
	// Increment adds 1 to the number at key (missing: 0) with a
	// compare-and-swap loop and returns the new value and how many times
	// it had to retry.
	Increment(ctx context.Context, key string) (n int, retries int, err error)
	// WatchTree sends every change below dir as "action key=value" until
	// ctx ends; the channel is closed then.
	WatchTree(ctx context.Context, dir string) (<-chan string, error)
	// NewLock makes a lock on key with a TTL, kept alive while held.
	NewLock(key string, ttl time.Duration) Lock
	// Close releases the store's connections.
	Close()
}

// Transport is what the stores send through (both clients' Config.Transport
// is a CancelableTransport; the clients cancel through contexts).
type Transport interface {
	http.RoundTripper
	CancelRequest(*http.Request)
}
