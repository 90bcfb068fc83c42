// Package discover tests SRV discovery against a DNS server on loopback that
// answers the records etcd publishes, and uses what it finds to reach a real
// etcd.
package discover

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// dnsServer answers SRV questions from a fixed table over UDP on 127.0.0.1;
// every other name is NXDOMAIN. It counts the questions it saw.
type dnsServer struct {
	conn    net.PacketConn
	records map[string][]dnsmessage.SRVResource // by lower-case name with trailing dot
	mu      sync.Mutex
	asked   []string
}

func startDNS(t *testing.T, records map[string][]dnsmessage.SRVResource) *dnsServer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: conn, records: records}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, addr, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := s.answer(buf[:n]); out != nil {
				conn.WriteTo(out, addr)
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

func (s *dnsServer) answer(msg []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.ToLower(q.Name.String())
	s.mu.Lock()
	s.asked = append(s.asked, name)
	s.mu.Unlock()
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true}
	recs, ok := s.records[name]
	if !ok || q.Type != dnsmessage.TypeSRV {
		if !ok {
			rh.RCode = dnsmessage.RCodeNameError
		}
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	if ok && q.Type == dnsmessage.TypeSRV {
		for _, r := range recs {
			b.SRVResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, r)
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

// resolver sends every lookup to s.
func (s *dnsServer) resolver() *net.Resolver {
	addr := s.conn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

func srv(target string, port uint16, prio, weight uint16) dnsmessage.SRVResource {
	return dnsmessage.SRVResource{Priority: prio, Weight: weight, Port: port, Target: dnsmessage.MustNewName(target)}
}

func TestSRVDiscovery(t *testing.T) {
	dns := startDNS(t, map[string][]dnsmessage.SRVResource{
		"_etcd-client-ssl._tcp.example.test.": {srv("a.example.test.", 2379, 10, 10)},
		"_etcd-client._tcp.example.test.": {
			srv("b.example.test.", 2379, 10, 10),
			srv("b.example.test.", 2379, 20, 10), // duplicate target: listed once
			srv("c.example.test.", 4001, 20, 10),
		},
		"_etcd-client-prod._tcp.named.test.": {srv("p.named.test.", 2379, 10, 10)},
		"_etcd-client._tcp.named.test.":      {srv("wrong.named.test.", 2379, 10, 10)},
		"_etcd-client._tcp.httponly.test.":   {srv("h.httponly.test.", 2379, 10, 10)},
	})

	for _, tc := range []struct {
		name, domain, service string
		want                  []string
		err                   string
	}{
		{name: "both schemes, https first, trailing dots trimmed", domain: "example.test",
			want: []string{"https://a.example.test:2379", "http://b.example.test:2379", "http://c.example.test:4001"}},
		{name: "domain with trailing dot", domain: "example.test.",
			want: []string{"https://a.example.test:2379", "http://b.example.test:2379", "http://c.example.test:4001"}},
		{name: "service name suffix", domain: "named.test", service: "prod", want: []string{"http://p.named.test:2379"}},
		{name: "only http records", domain: "httponly.test", want: []string{"http://h.httponly.test:2379"}},
		{name: "no records", domain: "nothing.test", err: "_etcd-client-ssl._tcp.nothing.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &client.SRVDiscoverer{Resolver: dns.resolver(), ServiceName: tc.service}
			got, err := d.Discover(tc.domain)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "_etcd-client._tcp") {
					t.Fatalf("err = %v, want one naming both lookups", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("Discover = %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := (&client.SRVDiscoverer{}).Discover(""); err == nil {
		t.Fatal("an empty domain was accepted")
	}
}

// TestDiscoveredEndpointsReachEtcd publishes a real member's port under a
// name that resolves to loopback and uses the discovered URL as the
// client's endpoint.
func TestDiscoveredEndpointsReachEtcd(t *testing.T) {
	server := etcdtest.ServerFor(t, "3.5")
	cl := etcdtest.StartCluster(t, server, 1)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(cl.Endpoints()[0], "http://"))
	if err != nil {
		t.Fatal(err)
	}
	var p uint16
	for _, ch := range port {
		p = p*10 + uint16(ch-'0')
	}
	dns := startDNS(t, map[string][]dnsmessage.SRVResource{
		"_etcd-client._tcp.cluster.test.": {srv("localhost.", p, 10, 10)},
	})
	eps, err := (&client.SRVDiscoverer{Resolver: dns.resolver()}).Discover("cluster.test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{Endpoints: eps})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.GetVersion(t.Context())
	if err != nil {
		t.Fatalf("GetVersion via %v: %v", eps, err)
	}
	if v.Server != server.Version {
		t.Fatalf("server version %q, want %q", v.Server, server.Version)
	}
	var dnsErr *net.DNSError
	if _, err := (&client.SRVDiscoverer{Resolver: dns.resolver()}).Discover("other.test"); !errors.As(err, &dnsErr) {
		t.Fatalf("err = %v, want the resolver's *net.DNSError inside", err)
	}
}
