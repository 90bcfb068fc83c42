package cli

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// side is one tool with its own clusters: the script runs once per side, on
// clusters of its own, so that both start from the same state. Most steps
// use a 1-member cluster, where a read always sees the write before it; the
// membership steps use a 3-member one (a member can only be added and
// removed again where quorum survives the unstarted member).
type side struct {
	tool, tool3 tool
	cl, cl3     *etcdtest.Cluster
	hc          client.Client
	kapi        client.KeysAPI
	mapi        client.MembersAPI // of the 3-member cluster
	// newPeer and newPeer2 are the peer URLs member add and update use.
	newPeer, newPeer2 string
}

// idx returns the modifiedIndex of key on this side's cluster, as a flag
// value.
func (s *side) idx(t *testing.T, key string) string {
	resp, err := s.kapi.Get(t.Context(), key, &client.GetOptions{Quorum: true})
	if err != nil {
		t.Fatalf("%s: reading %s: %v", s.tool.name(), key, err)
	}
	return strconv.FormatUint(resp.Node.ModifiedIndex, 10)
}

// before returns the index before key's last change, for --after-index.
func (s *side) before(t *testing.T, key string) string {
	n, _ := strconv.ParseUint(s.idx(t, key), 10, 64)
	return strconv.FormatUint(n-1, 10)
}

// watchers is the number of watches registered on the side's members.
func (s *side) watchers(t *testing.T) uint64 {
	var n uint64
	for ep, r := range client.StatusOfEach(t.Context(), s.hc, client.StatusAPI.StoreStats) {
		if r.Err != nil {
			t.Fatalf("store statistics of %s: %v", ep, r.Err)
		}
		n += r.Value.Watchers
	}
	return n
}

// settleMembers waits until every member of the 3-member cluster lists the
// same membership, so that the next step sees the last change wherever it
// asks.
func (s *side) settleMembers(t *testing.T) {
	waitFor(t, "the members to agree on the membership", func() bool {
		var lists []string
		for _, ep := range s.cl3.Endpoints() {
			hc, _ := clienttest.New(t, []string{ep}, client.Config{})
			ms, err := client.NewMembersAPI(hc).List(t.Context())
			if err != nil {
				return false
			}
			lists = append(lists, fmt.Sprint(ms))
		}
		return lists[0] == lists[1] && lists[1] == lists[2]
	})
}

// unstarted returns the id of the member that was added but never started.
func (s *side) unstarted(t *testing.T) string {
	members, err := s.mapi.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.Name == "" {
			return m.ID
		}
	}
	t.Fatalf("%s: no unstarted member", s.tool.name())
	return ""
}

// step is one invocation of the script.
type step struct {
	name string
	inv  invocation
	// args, when set, makes the command line from the side (indexes and
	// ids differ between the two clusters).
	args func(t *testing.T, s *side) []string
	// until, when set, runs the invocation until its standard output
	// holds each of these texts, then interrupts it (watch --forever,
	// exec-watch).
	until []string
	// trigger, when set, is written to /dt/w/x once the invocation's watch
	// is registered with etcd (every member's store statistics count it).
	trigger string
	// three runs the step on the 3-member cluster; the membership is then
	// left to settle on every member.
	three bool
	// sortLines compares the lines in any order (unsorted listings, members
	// in id order).
	sortLines bool
	// differ names the streams (stdout, stderr, exit) that differ on
	// purpose, and why the reason that README.md states.
	differ string
	why    string
}

// reasons are the deliberate differences; each phrase must appear in the
// README's table.
var reasons = map[string]string{
	"version":  "`--version` names goetcdctl and its version",
	"json":     "`-o json` prints etcd's own answer",
	"jsonerr":  "`-o json` errors are etcd's JSON error document",
	"prompt":   "password prompts go to standard error",
	"httperr":  "member, user, role and auth errors name the request, the endpoint and the HTTP status",
	"etcderr":  "a 5xx answer keeps etcd's own error",
	"health":   "`cluster-health` adds each member's version, leader and raft index",
	"adduser":  "`user add` of an existing user fails and never changes its password",
	"passwd":   "`user passwd` of a missing user fails instead of creating it",
	"roles":    "`user get` lists the roles without etcdctl's extra blanks",
	"output":   "an unknown `--output` is refused before anything is sent",
	"conn":     "connection errors name each endpoint",
	"helpcmds": "`help` lists `export`, `import`, `migrate` and `completion`",
}

// script is the differential script: every command and output mode of
// etcdctl's v2 mode, successes and errors.
func script() []step {
	inv := func(args ...string) invocation { return invocation{args: args} }
	s := []step{
		{name: "version", inv: inv("--version"), differ: "stdout", why: "version"},
		{name: "help", inv: inv("help"), differ: "stdout", why: "helpcmds"},
		{name: "help get", inv: inv("get", "--help")},
		{name: "help set", inv: inv("set", "--help")},
		{name: "help ls", inv: inv("ls", "--help")},
		{name: "help rm", inv: inv("rm", "--help")},
		{name: "help watch", inv: inv("watch", "--help")},
		{name: "help exec-watch", inv: inv("exec-watch", "--help")},
		{name: "help member", inv: inv("member", "--help")},
		{name: "help role grant", inv: inv("role", "grant", "--help")},
		{name: "unknown command", inv: inv("bogus")},
		{name: "unknown flag", inv: inv("get", "--bogus", "/dt/a")},

		{name: "set", inv: inv("set", "/dt/a", "1")},
		{name: "get", inv: inv("get", "/dt/a")},
		{name: "get extended", inv: inv("-o", "extended", "get", "/dt/a")},
		{name: "get json", inv: inv("-o", "json", "get", "/dt/a"), differ: "stdout", why: "json"},
		{name: "get missing", inv: inv("get", "/dt/missing")},
		{name: "get missing json", inv: inv("--output", "json", "get", "/dt/missing"), differ: "stderr", why: "jsonerr"},
		{name: "get missing extended", inv: inv("-o", "extended", "get", "/dt/missing")},
		{name: "get no key", inv: inv("get")},
		{name: "get quorum", inv: inv("get", "--quorum", "/dt/a")},
		{name: "get sort", inv: inv("get", "--sort", "/dt/a")},
		{name: "set again", inv: inv("set", "/dt/a", "2")},
		{name: "set extended prev", inv: inv("-o", "extended", "set", "/dt/a", "3")},
		{name: "set json prev", inv: inv("-o", "json", "set", "/dt/a", "3b"), differ: "stdout", why: "json"},
		{name: "set swap value", inv: inv("set", "--swap-with-value", "3b", "/dt/a", "4")},
		{name: "set swap value fails", inv: inv("set", "--swap-with-value", "nope", "/dt/a", "5")},
		{name: "set swap index fails", inv: inv("set", "--swap-with-index", "1", "/dt/a", "6")},
		{name: "set swap index", args: func(t *testing.T, s *side) []string {
			return []string{"set", "--swap-with-index", s.idx(t, "/dt/a"), "/dt/a", "7"}
		}},
		{name: "set from stdin", inv: invocation{args: []string{"set", "/dt/stdin"}, stdin: "from stdin"}},
		{name: "get from stdin", inv: inv("get", "/dt/stdin")},
		{name: "set no value", inv: inv("set", "/dt/novalue")},
		{name: "set no key", inv: inv("set")},
		{name: "set on dir parent", inv: inv("set", "/dt/a/child", "x")},
		{name: "mk", inv: inv("mk", "/dt/new", "v")},
		{name: "mk exists", inv: inv("mk", "/dt/new", "v")},
		{name: "mk ttl", inv: inv("mk", "--ttl", "100", "/dt/ttl", "t")},
		{name: "get ttl extended", inv: inv("-o", "extended", "get", "/dt/ttl")},
		{name: "mk in-order 1", inv: inv("mk", "--in-order", "/dt/q", "job1")},
		{name: "mk in-order 2", inv: inv("mk", "--in-order", "/dt/q", "job2")},
		{name: "mk in-order extended", inv: inv("-o", "extended", "mk", "--in-order", "/dt/q", "job3")},
		{name: "ls in-order", inv: inv("ls", "--sort", "/dt/q")},
		{name: "mkdir", inv: inv("mkdir", "/dt/dir")},
		{name: "mkdir exists", inv: inv("mkdir", "/dt/dir")},
		{name: "mkdir extended", inv: inv("-o", "extended", "mkdir", "/dt/dir2")},
		{name: "mkdir json", inv: inv("-o", "json", "mkdir", "/dt/dir3"), differ: "stdout", why: "json"},
		{name: "mkdir ttl", inv: inv("mkdir", "--ttl", "100", "/dt/tdir")},
		{name: "setdir on dir", inv: inv("setdir", "/dt/dir")},
		{name: "setdir ttl", inv: inv("setdir", "--ttl", "100", "/dt/sdir")},
		{name: "setdir extended", inv: inv("-o", "extended", "setdir", "/dt/sdir2")},
		{name: "updatedir", inv: inv("updatedir", "--ttl", "200", "/dt/sdir"), differ: "stderr", why: "etcderr"},
		{name: "updatedir missing", inv: inv("updatedir", "/dt/nodir")},
		{name: "update", inv: inv("update", "/dt/a", "upd")},
		{name: "update missing", inv: inv("update", "/dt/missing", "x")},
		{name: "update extended ttl", inv: inv("-o", "extended", "update", "--ttl", "100", "/dt/a", "withttl")},
		{name: "get dir", inv: inv("get", "/dt/dir")},
		{name: "ls", inv: inv("ls", "/dt"), sortLines: true},
		{name: "ls root", inv: inv("ls"), sortLines: true},
		{name: "ls sort", inv: inv("ls", "--sort", "/dt")},
		{name: "ls sort p", inv: inv("ls", "--sort", "-p", "/dt")},
		{name: "ls recursive", inv: inv("ls", "--sort", "--recursive", "/dt")},
		{name: "ls recursive p", inv: inv("ls", "--sort", "-r", "-p", "/dt")},
		{name: "ls quorum", inv: inv("ls", "--quorum", "--sort", "/dt")},
		{name: "ls extended", inv: inv("-o", "extended", "ls", "--sort", "/dt")},
		{name: "ls json", inv: inv("-o", "json", "ls", "--sort", "/dt/q"), differ: "stdout", why: "json"},
		{name: "ls key", inv: inv("ls", "/dt/a")},
		{name: "ls missing", inv: inv("ls", "/dt/missing")},
		{name: "rm", inv: inv("rm", "/dt/new")},
		{name: "rm missing", inv: inv("rm", "/dt/new")},
		{name: "rm dir without --dir", inv: inv("rm", "/dt/dir")},
		{name: "rm dir", inv: inv("rm", "--dir", "/dt/dir")},
		{name: "rm dir extended", inv: inv("-o", "extended", "rm", "--dir", "/dt/dir2")},
		{name: "rm with value fails", inv: inv("rm", "--with-value", "wrong", "/dt/a")},
		{name: "rm with value", inv: inv("rm", "--with-value", "withttl", "/dt/a")},
		{name: "set b", inv: inv("set", "/dt/b", "1")},
		{name: "rm with index fails", inv: inv("rm", "--with-index", "1", "/dt/b")},
		{name: "rm with index", args: func(t *testing.T, s *side) []string {
			return []string{"rm", "--with-index", s.idx(t, "/dt/b"), "/dt/b"}
		}},
		{name: "rm recursive", inv: inv("rm", "--recursive", "/dt/q")},
		{name: "rm no key", inv: inv("rm")},
		{name: "rmdir", inv: inv("rmdir", "/dt/sdir2")},
		{name: "rmdir key", inv: inv("rmdir", "/dt/stdin")},
		{name: "rmdir missing", inv: inv("rmdir", "/dt/missing")},
		{name: "rm -r dir3", inv: inv("rm", "-r", "/dt/dir3")},

		{name: "set w", inv: inv("set", "/dt/w/x", "v1")},
		{name: "watch after", args: func(t *testing.T, s *side) []string {
			return []string{"watch", "--after-index", s.before(t, "/dt/w/x"), "/dt/w/x"}
		}},
		{name: "watch recursive after", args: func(t *testing.T, s *side) []string {
			return []string{"watch", "-r", "--after-index", s.before(t, "/dt/w/x"), "/dt/w"}
		}},
		{name: "watch extended", args: func(t *testing.T, s *side) []string {
			return []string{"-o", "extended", "watch", "--after-index", s.before(t, "/dt/w/x"), "/dt/w/x"}
		}},
		{name: "watch json", args: func(t *testing.T, s *side) []string {
			return []string{"-o", "json", "watch", "--after-index", s.before(t, "/dt/w/x"), "/dt/w/x"}
		}, differ: "stdout", why: "json"},
		{name: "watch no key", inv: inv("watch")},
		{name: "set w again", inv: inv("set", "/dt/w/x", "v2")},
		{name: "watch forever", args: func(t *testing.T, s *side) []string {
			n, _ := strconv.Atoi(s.before(t, "/dt/w/x"))
			return []string{"watch", "--forever", "-r", "--after-index", strconv.Itoa(n - 1), "/dt/w"}
		}, until: []string{"v2"}},
		{name: "exec-watch after", args: func(t *testing.T, s *side) []string {
			n, _ := strconv.Atoi(s.before(t, "/dt/w/x"))
			return []string{"exec-watch", "--after-index", strconv.Itoa(n - 1), "printenv", "ETCD_WATCH_VALUE", "/dt/w/x"}
		}, until: []string{"v1\n", "v2\n"}, sortLines: true}, // etcdctl runs the commands at once, in any order
		{name: "watch trigger", inv: inv("watch", "/dt/w/x"), trigger: "v3"},
		{name: "watch recursive trigger", inv: inv("-o", "extended", "watch", "--recursive", "/dt/w"), trigger: "v4"},
		{name: "exec-watch trigger", inv: inv("exec-watch", "printenv", "ETCD_WATCH_ACTION", "ETCD_WATCH_KEY", "ETCD_WATCH_MODIFIED_INDEX", "ETCD_WATCH_VALUE", "/dt/w/x"), trigger: "v5", until: []string{"v5\n"}},
		{name: "exec-watch recursive dir", inv: inv("exec-watch", "--recursive", "printenv", "ETCD_WATCH_KEY", "/dt/w"), trigger: "v6", until: []string{"/dt/w/x"}},
		{name: "exec-watch no command", inv: inv("exec-watch", "/dt/w/x")},

		{name: "member list", three: true, inv: inv("member", "list"), sortLines: true},
		{name: "member list args", three: true, inv: inv("member", "list", "extra")},
		{name: "member add", three: true, args: func(t *testing.T, s *side) []string {
			return []string{"member", "add", "m9", s.newPeer}
		}},
		{name: "member list unstarted", three: true, inv: inv("member", "list"), sortLines: true},
		{name: "member update", three: true, args: func(t *testing.T, s *side) []string {
			return []string{"member", "update", s.unstarted(t), s.newPeer2}
		}},
		{name: "member remove", three: true, args: func(t *testing.T, s *side) []string {
			return []string{"member", "remove", s.unstarted(t)}
		}},
		{name: "member remove unknown", three: true, inv: inv("member", "remove", "deadbeef")},
		{name: "member remove by name", three: true, inv: inv("member", "remove", "m0")},
		{name: "member add usage", inv: inv("member", "add", "onlyname")},
		{name: "member update usage", inv: inv("member", "update")},
		{name: "member update unknown", three: true, inv: inv("member", "update", "deadbeef", "http://127.0.0.1:1"), differ: "stderr", why: "httperr"},
		{name: "cluster-health", three: true, inv: inv("cluster-health"), sortLines: true, differ: "stdout", why: "health"},

		{name: "user list empty", inv: inv("user", "list")},
		{name: "user add root", inv: invocation{args: []string{"user", "add", "root"}, stdin: "rootpw\n"}, differ: "stdout,stderr", why: "prompt"},
		{name: "user add alice", inv: inv("user", "add", "alice:alicepw")},
		{name: "user add exists", inv: inv("user", "add", "alice:x"), differ: "stdout,stderr,exit", why: "adduser"},
		{name: "user add usage", inv: inv("user", "add")},
		{name: "user get", inv: inv("user", "get", "alice")},
		{name: "user get missing", inv: inv("user", "get", "nobody"), differ: "stderr", why: "httperr"},
		{name: "user list", inv: inv("user", "list"), sortLines: true},
		{name: "role add", inv: inv("role", "add", "reader")},
		{name: "role add exists", inv: inv("role", "add", "reader")},
		{name: "role grant", inv: inv("role", "grant", "--path", "/dt/*", "--read", "reader")},
		{name: "role grant again", inv: inv("role", "grant", "--path", "/dt/*", "--read", "reader"), differ: "stderr", why: "httperr"},
		{name: "role grant rw", inv: inv("role", "grant", "--path", "/rw/*", "--rw", "reader")},
		{name: "role grant not canonical", inv: inv("role", "grant", "--path", "dt//x", "--read", "reader")},
		{name: "role grant no perm", inv: inv("role", "grant", "--path", "/x", "reader")},
		{name: "role grant no path", inv: inv("role", "grant", "--read", "reader")},
		{name: "role get", inv: inv("role", "get", "reader")},
		{name: "role get missing", inv: inv("role", "get", "nobody"), differ: "stderr", why: "httperr"},
		{name: "role list", inv: inv("role", "list")},
		{name: "user grant", inv: inv("user", "grant", "--roles", "reader", "alice")},
		{name: "user grant no roles", inv: inv("user", "grant", "alice")},
		{name: "user get granted", inv: inv("user", "get", "alice"), differ: "stdout", why: "roles"},
		{name: "user revoke", inv: inv("user", "revoke", "--roles", "reader", "alice")},
		{name: "role revoke", inv: inv("role", "revoke", "--path", "/dt/*", "--read", "reader")},
		{name: "user passwd", inv: invocation{args: []string{"user", "passwd", "alice"}, stdin: "newpw\n"}, differ: "stdout,stderr", why: "prompt"},
		{name: "auth enable", inv: inv("auth", "enable")},
		{name: "auth enable args", inv: inv("auth", "enable", "now")},
		{name: "user list no creds", inv: inv("user", "list"), differ: "stderr", why: "httperr"},
		{name: "user list as root", inv: inv("-u", "root:rootpw", "user", "list"), sortLines: true},
		{name: "user list as root env", inv: invocation{args: []string{"user", "list"}, env: map[string]string{"ETCDCTL_USERNAME": "root:rootpw"}}, sortLines: true},
		{name: "get as alice", inv: inv("--username", "alice:newpw", "get", "/dt/ttl")},
		{name: "auth disable", inv: inv("-u", "root:rootpw", "auth", "disable")},
		{name: "auth disable again", inv: inv("auth", "disable"), differ: "stderr", why: "httperr"},
		{name: "role remove", inv: inv("role", "remove", "reader")},
		{name: "user remove", inv: inv("user", "remove", "alice")},
		{name: "user remove missing", inv: inv("user", "remove", "alice"), differ: "stderr", why: "httperr"},
		{name: "user passwd missing", inv: invocation{args: []string{"user", "passwd", "nobody"}, stdin: "pw\n"}, differ: "stdout,stderr", why: "passwd"},

		{name: "endpoints flag", args: func(t *testing.T, s *side) []string {
			return []string{"--endpoints", s.cl.Endpoints()[0], "get", "/dt/ttl"}
		}},
		{name: "peers flag", args: func(t *testing.T, s *side) []string {
			return []string{"-C", s.cl.Endpoints()[0], "--no-sync", "get", "/dt/ttl"}
		}},
		{name: "dead endpoint", inv: inv("--endpoints", "http://127.0.0.1:1", "get", "/dt/ttl"), differ: "stderr", why: "conn"},
		{name: "dead endpoint no sync", inv: inv("--no-sync", "--endpoints", "http://127.0.0.1:1", "get", "/dt/ttl"), differ: "stderr", why: "conn"},
		{name: "bad output", inv: inv("-o", "yaml", "get", "/dt/ttl"), differ: "stderr,exit", why: "output"},
	}
	return s
}

// normaliser rewrites what differs between two runs of the same script on
// two clusters: URLs, member ids, indexes, TTL countdowns, in-order names,
// timestamps and the program's name.
type normaliser struct{ pairs []string }

func newNormaliser(s *side) *normaliser {
	n := &normaliser{}
	for i, m := range s.cl3.Members() {
		n.pairs = append(n.pairs, m.ClientURL, fmt.Sprintf("<client%d>", i), m.PeerURL, fmt.Sprintf("<peer%d>", i))
	}
	for _, m := range s.cl.Members() {
		n.pairs = append(n.pairs, m.ClientURL, "<client>", m.PeerURL, "<peer>")
	}
	n.pairs = append(n.pairs, s.newPeer, "<newpeer>", s.newPeer2, "<newpeer2>")
	return n
}

var (
	reIndexJSON  = regexp.MustCompile(`"(createdIndex|modifiedIndex|index)":\d+`)
	reIndexText  = regexp.MustCompile(`(?m)^(Created-Index|Modified-Index|Index): \d+$`)
	reErrIndex   = regexp.MustCompile(`\) \[\d+\]`)
	reTTLText    = regexp.MustCompile(`(?m)^TTL: [1-9]\d*$`)
	reTTLJSON    = regexp.MustCompile(`"ttl":\d+`)
	reExpiration = regexp.MustCompile(`"expiration":"[^"]*"`)
	reInOrder    = regexp.MustCompile(`/\d{20}\b`)
	reIsLeader   = regexp.MustCompile(`isLeader=(true|false)`)
	reCluster    = regexp.MustCompile(`ETCD_INITIAL_CLUSTER="([^"]*)"`)
	reWatchIndex = regexp.MustCompile(`\b(MODIFIED_INDEX)=\d+`)
)

func (n *normaliser) apply(s string, sortLines bool) string {
	s = strings.NewReplacer(n.pairs...).Replace(s)
	s = hexID.ReplaceAllString(s, "<id>")
	s = reIndexJSON.ReplaceAllString(s, `"$1":<n>`)
	s = reIndexText.ReplaceAllString(s, "$1: <n>")
	s = reErrIndex.ReplaceAllString(s, ") [<n>]")
	s = reTTLText.ReplaceAllString(s, "TTL: <ttl>")
	s = reTTLJSON.ReplaceAllString(s, `"ttl":<ttl>`)
	s = reExpiration.ReplaceAllString(s, `"expiration":<time>`)
	s = reInOrder.ReplaceAllString(s, "/<seq>")
	s = reIsLeader.ReplaceAllString(s, "isLeader=<b>")
	s = reWatchIndex.ReplaceAllString(s, "$1=<n>")
	s = reCluster.ReplaceAllStringFunc(s, func(m string) string {
		items := strings.Split(reCluster.FindStringSubmatch(m)[1], ",")
		sort.Strings(items)
		return `ETCD_INITIAL_CLUSTER="` + strings.Join(items, ",") + `"`
	})
	s = strings.ReplaceAll(s, "goetcdctl", "etcdctl")
	if sortLines {
		lines := strings.Split(s, "\n")
		sort.Strings(lines)
		s = strings.Join(lines, "\n")
	}
	return s
}

// newSide starts the clusters of one tool.
func newSide(t *testing.T, srv etcdtest.Server, mk func(eps []string) tool) *side {
	cl := etcdtest.StartCluster(t, srv, 1)
	// Without the strict check, a member can be added as soon as the
	// cluster is up (with it, the leader must have seen every member for
	// 5 s first, which a fast script does not wait for).
	cl3 := etcdtest.StartCluster(t, srv, 3, etcdtest.WithArgs("--strict-reconfig-check=false"))
	hc, _ := clienttest.New(t, cl.Endpoints(), client.Config{})
	hc3, _ := clienttest.New(t, cl3.Endpoints(), client.Config{})
	return &side{
		tool:     mk(cl.Endpoints()),
		tool3:    mk(cl3.Endpoints()),
		cl:       cl,
		cl3:      cl3,
		hc:       hc,
		kapi:     client.NewKeysAPI(hc),
		mapi:     client.NewMembersAPI(hc3),
		newPeer:  fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t)),
		newPeer2: fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t)),
	}
}

// runScript runs every step on one side and returns the normalised
// results.
func runScript(t *testing.T, s *side, steps []step) []result {
	norm := newNormaliser(s)
	out := make([]result, len(steps))
	last := -1
	defer func() {
		for i := max(0, last-2); t.Failed() && i <= last; i++ {
			t.Logf("%s's step %q: exit %d\nstdout: %q\nstderr: %q", s.tool.name(), steps[i].name, out[i].code, out[i].stdout, out[i].stderr)
		}
	}()
	for i, st := range steps {
		in := st.inv
		if st.args != nil {
			in.args = st.args(t, s)
		}
		if st.trigger != "" {
			waitFor(t, "no watcher left on "+s.tool.name()+"'s cluster", func() bool { return s.watchers(t) == 0 })
		}
		tl := s.tool
		if st.three {
			tl = s.tool3
		}
		wait, stdout := tl.start(t, in)
		if st.trigger != "" {
			waitFor(t, fmt.Sprintf("%s %q to register its watch", s.tool.name(), in.args), func() bool { return s.watchers(t) > 0 })
			if _, err := s.kapi.Set(t.Context(), "/dt/w/x", st.trigger, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, text := range st.until {
			waitFor(t, fmt.Sprintf("%s %q to print %q", s.tool.name(), in.args, text), func() bool {
				return strings.Contains(stdout.String(), text)
			})
		}
		res := wait(len(st.until) > 0)
		if st.three {
			s.settleMembers(t)
		}
		res.stdout = norm.apply(res.stdout, st.sortLines)
		res.stderr = norm.apply(res.stderr, st.sortLines)
		out[i] = res
		last = i
	}
	return out
}

// TestDifferential runs the script with etcdctl 3.4.23 (v2 mode) and with
// goetcdctl, each against its own fresh 3-member etcd 3.5 cluster, and
// compares standard output, standard error and exit codes of every
// invocation. A difference fails the test unless the step names it as
// deliberate, with a reason the README states; a step marked deliberate
// that no longer differs fails too, so the list stays true.
func TestDifferential(t *testing.T) {
	path, missing := findEtcdctl()
	if missing != "" {
		t.Skipf("NOT RUN: the differential test needs etcdctl %s: %s", etcdctlVersion, missing)
	}
	steps := script()
	if len(steps) < 60 {
		t.Fatalf("the script has %d invocations; it must have at least 60", len(steps))
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for key, phrase := range reasons {
		if !strings.Contains(string(readme), phrase) {
			t.Errorf("README.md does not state the deliberate difference %q: %q", key, phrase)
		}
	}

	srv := etcdtest.ServerFor(t, "3.5")
	theirs := newSide(t, srv, func(eps []string) tool { return &etcdctl{path: path, endpoints: eps} })
	ours := newSide(t, srv, func(eps []string) tool { return newGoetcdctl(t, eps) })
	want := runScript(t, theirs, steps)
	got := runScript(t, ours, steps)

	differing := 0
	for i, st := range steps {
		w, g := want[i], got[i]
		diffs := map[string]bool{"stdout": w.stdout != g.stdout, "stderr": w.stderr != g.stderr, "exit": w.code != g.code}
		for _, stream := range []string{"stdout", "stderr", "exit"} {
			allowed := st.differ != "" && strings.Contains(st.differ, stream)
			switch {
			case diffs[stream] && !allowed:
				t.Errorf("step %d %q: %s differs\netcdctl:   %s\ngoetcdctl: %s", i, st.name, stream, show(w, stream), show(g, stream))
			case !diffs[stream] && allowed:
				t.Errorf("step %d %q: %s is marked as a deliberate difference (%s) but is the same: %s", i, st.name, stream, st.why, show(g, stream))
			}
		}
		if st.differ != "" {
			differing++
			if _, ok := reasons[st.why]; !ok {
				t.Errorf("step %q: unknown reason %q", st.name, st.why)
			}
		}
	}
	t.Logf("%d invocations per tool; %d differ on purpose, for %d reasons", len(steps), differing, len(reasons))
}

func show(r result, stream string) string {
	switch stream {
	case "stdout":
		return strconv.Quote(r.stdout)
	case "stderr":
		return strconv.Quote(r.stderr)
	}
	return strconv.Itoa(r.code)
}
