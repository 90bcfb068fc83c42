package model

import (
	"fmt"
	"sort"
	"strings"

	"github.com/meycoin/goetcd/client"
)

// store is a model of the etcd v2 store below one directory (prefix), which
// a sequence owns alone. It encodes what the servers do (wire doc §2.4, §4,
// §11 and etcd's v2store):
//
//   - every successful write takes the next store index; failed ones take
//     none; errors carry the current index;
//   - a plain set over a file replaces it and resets createdIndex; update,
//     compare-and-swap keep it; intermediate directories are created with the
//     write's index;
//   - prevExist is tri-state: absent = set, true = update (100 if missing),
//     false = create (105 if the key exists, file or directory);
//   - 102 "Not a file": set/update/CAS/CAD on a directory, delete of a
//     directory without dir or recursive; 104 "Not a directory": a path
//     component is a file (the cause names it); 100's cause is the first
//     missing component; 108: a non-recursive delete of a directory that has
//     children (hidden ones count); 101 with "[want != have]" causes;
//   - listings (Get of a directory) leave out children whose name starts
//     with "_", at every depth; a non-recursive Get lists the immediate
//     children only, directories without their own children;
//   - in-order keys are named dir/%020d of the write's index;
//   - every write sets the node's TTL to the one it sends, and a write
//     without one makes the node permanent (update and compare-and-swap
//     included); nodes show their TTL, deleted nodes do not.
type store struct {
	prefix string
	index  uint64
	nodes  map[string]*mnode // by path relative to prefix; "" is the prefix itself
}

type mnode struct {
	dir               bool
	value             string
	created, modified uint64
	ttl               int64 // seconds; 0: permanent
}

func newStore(prefix string, index uint64) *store {
	return &store{prefix: prefix, index: index, nodes: map[string]*mnode{}}
}

func (s *store) abs(rel string) string {
	if rel == "" {
		return s.prefix
	}
	return s.prefix + "/" + rel
}

// chain is the paths from the prefix down to rel: "a/x" → "", "a", "a/x".
func chain(rel string) []string {
	out := []string{""}
	if rel == "" {
		return out
	}
	parts := strings.Split(rel, "/")
	for i := range parts {
		out = append(out, strings.Join(parts[:i+1], "/"))
	}
	return out
}

func parentOf(rel string) string {
	if i := strings.LastIndex(rel, "/"); i >= 0 {
		return rel[:i]
	}
	return ""
}

func (s *store) err(code int, cause string) *client.Error {
	msg := map[int]string{100: "Key not found", 101: "Compare failed", 102: "Not a file", 104: "Not a directory", 105: "Key already exists", 108: "Directory not empty"}[code]
	return &client.Error{Code: code, Message: msg, Cause: cause, Index: s.index}
}

// get walks to rel like the server's internalGet.
func (s *store) get(rel string) (*mnode, *client.Error) {
	var prev string
	for i, p := range chain(rel) {
		if i > 0 && !s.nodes[prev].dir {
			return nil, s.err(client.ErrorCodeNotDir, s.abs(prev))
		}
		if s.nodes[p] == nil {
			return nil, s.err(client.ErrorCodeKeyNotFound, s.abs(p))
		}
		prev = p
	}
	return s.nodes[rel], nil
}

// walkDirs checks that the directories above rel are directories or
// missing (the server's checkDir) and returns the missing ones.
func (s *store) walkDirs(rel string) ([]string, *client.Error) {
	ch := chain(rel)
	var missing []string
	for _, p := range ch[:len(ch)-1] {
		n := s.nodes[p]
		if n == nil {
			missing = append(missing, p)
			continue
		}
		if !n.dir {
			return nil, s.err(client.ErrorCodeNotDir, s.abs(p))
		}
	}
	return missing, nil
}

// repr is a node as the server shows it without children (prevNode, and
// the node of a write).
func (s *store) repr(rel string, n *mnode) *client.Node {
	out := &client.Node{Key: s.abs(rel), Dir: n.dir, CreatedIndex: n.created, ModifiedIndex: n.modified, TTL: n.ttl}
	if !n.dir {
		out.Value = n.value
	}
	return out
}

// listing is a node as Get shows it, children sorted by key.
func (s *store) listing(rel string, recursive, top bool) *client.Node {
	n := s.nodes[rel]
	out := s.repr(rel, n)
	if !n.dir || (!top && !recursive) {
		return out
	}
	for p, c := range s.nodes {
		if p == "" || parentOf(p) != rel {
			continue
		}
		name := p[strings.LastIndex(p, "/")+1:]
		if strings.HasPrefix(name, "_") {
			continue
		}
		_ = c
		out.Nodes = append(out.Nodes, s.listing(p, recursive, false))
	}
	sort.Sort(out.Nodes)
	return out
}

func (s *store) hasChildren(rel string) bool {
	for p := range s.nodes {
		if p != "" && p != rel && parentOf(p) == rel {
			return true
		}
	}
	return false
}

func (s *store) removeTree(rel string) {
	for p := range s.nodes {
		if p == rel || rel == "" || strings.HasPrefix(p, rel+"/") {
			delete(s.nodes, p)
		}
	}
}

// write applies a successful write at the next index.
func (s *store) next() uint64 { s.index++; return s.index }

func (s *store) resp(action string, node, prev *client.Node) *client.Response {
	return &client.Response{Action: action, Node: node, PrevNode: prev, Index: s.index}
}

// Get reads rel.
func (s *store) Get(rel string, recursive bool) (*client.Response, *client.Error) {
	if _, err := s.get(rel); err != nil {
		return nil, err
	}
	return s.resp("get", s.listing(rel, recursive, true), nil), nil
}

// create is the server's internalCreate: replace for set, not for create.
func (s *store) create(rel, value string, dir, replace bool, action string, ttl int64) (*client.Response, *client.Error) {
	missing, err := s.walkDirs(rel)
	if err != nil {
		return nil, err
	}
	var prev *client.Node
	if n := s.nodes[rel]; n != nil {
		if !replace {
			return nil, s.err(client.ErrorCodeNodeExist, s.abs(rel))
		}
		if n.dir {
			return nil, s.err(client.ErrorCodeNotFile, s.abs(rel))
		}
		prev = s.repr(rel, n)
	}
	idx := s.next()
	for _, p := range missing {
		s.nodes[p] = &mnode{dir: true, created: idx, modified: idx}
	}
	n := &mnode{dir: dir, created: idx, modified: idx, ttl: ttl}
	if !dir {
		n.value = value
	}
	s.nodes[rel] = n
	return s.resp(action, s.repr(rel, n), prev), nil
}

// Set is a plain set (replace a file, refuse a directory).
func (s *store) Set(rel, value string, ttl int64) (*client.Response, *client.Error) {
	return s.create(rel, value, false, true, "set", ttl)
}

// Mkdir is a set with dir=true.
func (s *store) Mkdir(rel string, ttl int64) (*client.Response, *client.Error) {
	return s.create(rel, "", true, true, "set", ttl)
}

// Create is prevExist=false.
func (s *store) Create(rel, value string, ttl int64) (*client.Response, *client.Error) {
	return s.create(rel, value, false, false, "create", ttl)
}

// CreateInOrder is a POST to dir.
func (s *store) CreateInOrder(dir, value string, ttl int64) (*client.Response, *client.Error) {
	name := fmt.Sprintf("%020d", s.index+1)
	rel := name
	if dir != "" {
		rel = dir + "/" + name
	}
	return s.create(rel, value, false, false, "create", ttl)
}

// Update is prevExist=true with a non-empty value.
func (s *store) Update(rel, value string, ttl int64) (*client.Response, *client.Error) {
	n, err := s.get(rel)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, s.err(client.ErrorCodeNotFile, s.abs(rel))
	}
	prev := s.repr(rel, n)
	n.value, n.modified, n.ttl = value, s.next(), ttl
	return s.resp("update", s.repr(rel, n), prev), nil
}

func (s *store) compare(n *mnode, prevValue string, prevIndex uint64) *client.Error {
	vOK := prevValue == "" || n.value == prevValue
	iOK := prevIndex == 0 || n.modified == prevIndex
	switch {
	case vOK && iOK:
		return nil
	case !vOK && !iOK:
		return s.err(client.ErrorCodeTestFailed, fmt.Sprintf("[%v != %v] [%v != %v]", prevValue, n.value, prevIndex, n.modified))
	case !iOK:
		return s.err(client.ErrorCodeTestFailed, fmt.Sprintf("[%v != %v]", prevIndex, n.modified))
	default:
		return s.err(client.ErrorCodeTestFailed, fmt.Sprintf("[%v != %v]", prevValue, n.value))
	}
}

// compared returns the file at rel if it passes the prevValue/prevIndex
// test of a compare-and-swap or compare-and-delete, or the server's error.
func (s *store) compared(rel, prevValue string, prevIndex uint64) (*mnode, *client.Error) {
	n, err := s.get(rel)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, s.err(client.ErrorCodeNotFile, s.abs(rel))
	}
	if err := s.compare(n, prevValue, prevIndex); err != nil {
		return nil, err
	}
	return n, nil
}

// CAS is a set with prevValue and/or prevIndex.
func (s *store) CAS(rel, value, prevValue string, prevIndex uint64, ttl int64) (*client.Response, *client.Error) {
	n, err := s.compared(rel, prevValue, prevIndex)
	if err != nil {
		return nil, err
	}
	prev := s.repr(rel, n)
	n.value, n.modified, n.ttl = value, s.next(), ttl
	return s.resp("compareAndSwap", s.repr(rel, n), prev), nil
}

// CAD is a delete with prevValue and/or prevIndex.
func (s *store) CAD(rel, prevValue string, prevIndex uint64) (*client.Response, *client.Error) {
	n, err := s.compared(rel, prevValue, prevIndex)
	if err != nil {
		return nil, err
	}
	prev := s.repr(rel, n)
	idx := s.next()
	delete(s.nodes, rel)
	return s.resp("compareAndDelete", &client.Node{Key: s.abs(rel), CreatedIndex: n.created, ModifiedIndex: idx}, prev), nil
}

// Delete is a delete with the dir and recursive flags.
func (s *store) Delete(rel string, dir, recursive bool) (*client.Response, *client.Error) {
	n, err := s.get(rel)
	if err != nil {
		return nil, err
	}
	if n.dir {
		if !dir && !recursive {
			return nil, s.err(client.ErrorCodeNotFile, s.abs(rel))
		}
		if !recursive && s.hasChildren(rel) {
			return nil, s.err(client.ErrorCodeDirNotEmpty, s.abs(rel))
		}
	}
	prev := s.repr(rel, n)
	idx := s.next()
	s.removeTree(rel)
	return s.resp("delete", &client.Node{Key: s.abs(rel), Dir: n.dir, CreatedIndex: n.created, ModifiedIndex: idx}, prev), nil
}
