// Package v3keys is a client.KeysAPI kept in etcd's v3 store: code written
// against the v2 keys API (Get, Set with every SetOptions field, Create,
// CreateInOrder, Update, Delete, Watcher) runs unchanged on etcd 3.5, 3.6
// and later, whose v2 API is gone or going, with the same client.Error
// codes, messages, causes and indexes and the same Response fields as a v2
// server.
//
//	kapi, err := v3keys.New(v3keys.Config{
//		Endpoints: []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379"},
//		Prefix:    "/myapp", // the v2 tree lives under this v3 prefix
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	resp, err := kapi.Get(ctx, "/jobs", &client.GetOptions{Recursive: true})
//
// It speaks etcd's v3 JSON gateway (/v3/kv/range, /v3/kv/txn, /v3/watch,
// /v3/lease/*, /v3/auth/authenticate; described in openapi.yaml beside this
// file and generated into an internal package), never gRPC, and sends every
// request through client.Do: the v2 client's endpoint selection, pinning,
// failover and retry table (a write that must not be applied twice is never
// resent once it may have reached a member).
//
// # The v2 tree in the v3 key space
//
// Every node of the v2 tree is one v3 key under Prefix:
//
//	<Prefix>/<depth>/<path><kind>
//
// depth is the number of segments of the path in three digits, path the
// node's key without its leading slash, and kind one byte: 0x00 for a
// directory, 0x01 or 0x02 for a file. The file /jobs/42 is
// "/myapp/002/jobs/42\x01", the directory /jobs "/myapp/001/jobs\x00". A
// file's value is the v3 value, byte for byte; a directory's value is
// empty. Bytes 0x00 to 0x03 in a key's path are escaped (0x03 followed by
// the byte plus 0x10), so the keys of one node are exactly the keys from
// "<Prefix>/<depth>/<path>" up to that plus 0x03, and siblings sort in the
// byte order v2 sorts names in.
//
// Directories are keys of their own, so empty directories exist, and every
// directory above a node exists while the node does. Reads and writes look
// at the node and the directories above it, which gives v2's errors and
// causes: 100 (naming the first missing directory), 102, 104 (naming the
// file in the way), 105, 107 and 108.
//
// Listing one level of a directory reads one v3 range: the keys of depth+1
// below its path. A recursive listing reads one range per level, in one
// transaction (more at the same revision for trees deeper than 16 levels),
// and never reads the directory's siblings. Names starting with "_" are
// left out of listings, as v2 does.
//
// # Indexes and writes
//
// An index is a v3 revision: modifiedIndex is the key's mod_revision,
// Response.Index the revision the answer was read or written at. A plain
// set replaces the node (v2 gives it a new createdIndex): it deletes the
// file's key and puts the other file kind, so that the new key has a new
// create_revision; update and compare-and-swap write the same key, keeping
// it.
//
// Each v2 write is one v3 transaction. The write reads its node and the
// directories above it (and, for a directory's deletion, how many keys lie
// below it), works out v2's answer from what it read, and applies it in a
// transaction whose comparisons hold only while everything it read is
// unchanged; if another writer got in between, the transaction's other
// branch has read the new state, and the write is worked out again. So a
// write applies once, at one revision, with its conditions (prevValue,
// prevIndex, prevExist) checked against the state it applies to. A plain
// set or a create starts from a guess instead of a read (its directory
// exists without a lease, the key does not), guarded the same way: a new
// key in an existing directory takes one round trip, and a wrong guess
// applies nothing and brings the state read by the other branch. Missing
// directories above a written node are created in the same transaction.
// Every write also puts the key <Prefix>/act, whose value names the v2
// action and the node (e.g. "compareAndSwap 0 /jobs/42"), for watchers.
//
// # TTLs
//
// A node with a TTL is attached to a v3 lease of its own, granted for the
// write. A node without a TTL below a directory with one is attached to that
// directory's lease, so that the whole directory expires at once, as in v2.
// The TTL and expiration of a read node come from its lease's remaining
// time (rounded up to whole seconds, as v2 does). A refresh (SetOptions
// Refresh) gives the node a new lease and writes it again with its value:
// like v2, it takes an index and a new modifiedIndex, and watchers are not
// told (its action is "refresh", which the Watcher skips). A lease that
// ends deletes its keys; the Watcher reports that as "expire".
//
// # In-order keys
//
// CreateInOrder names the new key by the revision its read was made at
// plus one, in twenty digits. That is the write's own revision, as in v2,
// unless another write to the cluster came in between. The key
// <Prefix>/seq/<dir> holds the last in-order number used in the directory
// (decimal); when it is not below the revision, the name is that number
// plus one instead, so names continue after keys migrated from v2 (named
// by v2 indexes, which may be above the v3 revision): Migrate records each
// directory's largest twenty-digit name there, never lowering it. The
// read includes the sequence key, and the transaction requires it
// unchanged since the read and writes the new number on it, so names in
// one directory increase in the order the keys were created; a creation
// that lost that race reads again and takes the next number.
//
// # Watching
//
// A Watcher opens one v3 watch over the whole prefix (a v2 subtree is not
// one v3 range in this layout), with the previous values of changed keys,
// from AfterIndex+1 or from now. The events of one revision are one write:
// its action key says which node and which action (set, create, update,
// compareAndSwap, delete, compareAndDelete); a revision without it is a
// lease that ended ("expire", once for a directory that expired with what
// was in it) or a writer that does not use this package ("set" or
// "delete"). Each event is matched against the watched key as v2 matches
// it: the key itself; with Recursive, any key below it that is not hidden
// below it; and the deletion of a directory above it when the watched key
// went with it. The stream is watched by the client's member health, as a
// v2 watch is. When its member stops answering the health probes (a frozen
// or hung machine, noticed in one to two seconds), or the stream breaks (a
// member dies), ends, or brings nothing for IdleTimeout, it is opened again
// on another member through the cluster pipeline, from the revision after
// the last one read, so no event is lost or repeated.
//
// When the revision a watch needs has been compacted, Next returns
// client.Error 401 (client.IsEventIndexCleared) with the cause "the
// requested history has been cleared [<compact revision>/<requested>]", or,
// with WatcherOptions.Resync, reads the key afresh and returns a Response
// with Action client.ActionResync, as the v2 Watcher does.
//
// # Moving a v2 tree here
//
// Migrate copies a v2 tree into this layout while its writers go on, and
// keeps it up to date until the switch; Verify compares the two trees. A
// migration keeps its progress in the key <Prefix>/migrate, which is not a
// node key: no read, listing or watch of the tree shows it.
//
// # Compared with etcd's own emulation
//
// etcd 3.4 and 3.5 shipped a server-side v2-on-v3 store
// (--experimental-enable-v2v3). This package keeps what it got right: keys
// grouped by depth so that a directory's level is one range, directories as
// keys of their own, an action key written in the write's own transaction
// for watchers, and indexes taken from revisions. It does differently what
// that store got wrong: it had no TTLs (leases here); a plain set kept the
// old createdIndex (the other file kind here resets it); a set did not
// create missing directories and answered 100; an update answered "Not a
// file" whatever failed; in-order names came from the wall clock, so they
// were neither the index nor ordered between clients; a recursive delete
// stopped at 63 levels; its watchers' recursive filter took /ab for a child
// of /a, and failed on a revision without the action key (here that is an
// expiry, or a writer that does not use the layout).
//
// The README's section "Leaving v2: the v3 backend" lists every remaining
// difference from a v2 server.
package v3keys
