package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// srvRecord is one SRV answer of the fake DNS server.
type srvRecord struct {
	ssl                bool
	prio, weight, port uint16
	target             string // dotted; see encodeName for how it goes on the wire
}

// parseSRVRecords turns fuzz bytes into records: per record a flags byte
// (bit 0: the ssl service), priority, weight and port (2 bytes each), a
// target length byte and the target.
func parseSRVRecords(data []byte) []srvRecord {
	var out []srvRecord
	for len(data) >= 8 && len(out) < 20 {
		r := srvRecord{ssl: data[0]&1 != 0,
			prio: binary.BigEndian.Uint16(data[1:]), weight: binary.BigEndian.Uint16(data[3:]), port: binary.BigEndian.Uint16(data[5:])}
		n := min(int(data[7]), len(data)-8)
		r.target = string(data[8 : 8+n])
		data = data[8+n:]
		out = append(out, r)
	}
	return out
}

// dnsConn is a net.Conn (not a PacketConn, so the Go resolver frames its
// query as over TCP) that answers the query written to it from records.
type dnsConn struct {
	records []srvRecord
	rcode   byte
	in, out bytes.Buffer
}

func (c *dnsConn) Write(b []byte) (int, error) {
	c.in.Write(b)
	if c.in.Len() >= 2 {
		n := int(binary.BigEndian.Uint16(c.in.Bytes()))
		if c.in.Len() >= 2+n && c.out.Len() == 0 {
			ans := c.answer(c.in.Bytes()[2 : 2+n])
			var l [2]byte
			binary.BigEndian.PutUint16(l[:], uint16(len(ans)))
			c.out.Write(l[:])
			c.out.Write(ans)
		}
	}
	return len(b), nil
}

func (c *dnsConn) Read(b []byte) (int, error) {
	if c.out.Len() == 0 {
		return 0, io.EOF
	}
	return c.out.Read(b)
}

func (c *dnsConn) Close() error                     { return nil }
func (c *dnsConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *dnsConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *dnsConn) SetDeadline(time.Time) error      { return nil }
func (c *dnsConn) SetReadDeadline(time.Time) error  { return nil }
func (c *dnsConn) SetWriteDeadline(time.Time) error { return nil }

// answer echoes the query's id and question and adds the records of the
// service asked for.
func (c *dnsConn) answer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	// The question: labels up to the root, then type and class.
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	qEnd := i + 5
	if qEnd > len(q) {
		return nil
	}
	ssl := len(labels) > 0 && strings.HasPrefix(labels[0], "_etcd-client-ssl")
	var ans bytes.Buffer
	count := 0
	for _, r := range c.records {
		if r.ssl != ssl || c.rcode != 0 {
			continue
		}
		var rdata bytes.Buffer
		binary.Write(&rdata, binary.BigEndian, [3]uint16{r.prio, r.weight, r.port})
		rdata.Write(encodeName(r.target))
		ans.Write([]byte{0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60})
		binary.Write(&ans, binary.BigEndian, uint16(rdata.Len()))
		ans.Write(rdata.Bytes())
		count++
	}
	var msg bytes.Buffer
	msg.Write(q[0:2])                                    // id
	msg.Write([]byte{0x84 | q[2]&1, 0x80 | c.rcode&0xf}) // QR, AA, RD as asked; RA, rcode
	binary.Write(&msg, binary.BigEndian, [4]uint16{1, uint16(count), 0, 0})
	msg.Write(q[12:qEnd])
	msg.Write(ans.Bytes())
	return msg.Bytes()
}

// encodeName writes a dotted name as DNS labels (cutting labels over 63
// bytes and the name at 255 bytes so that the message stays well formed).
func encodeName(name string) []byte {
	var b []byte
	name = strings.TrimSuffix(name, ".")
	if name != "" {
		for _, l := range strings.Split(name, ".") {
			if len(l) > 63 {
				l = l[:63]
			}
			if len(b)+len(l)+2 > 255 {
				break
			}
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	return append(b, 0)
}

// wireName is the name a resolver reads from encodeName(name).
func wireName(name string) string {
	b := encodeName(name)
	var labels []string
	for len(b) > 0 && b[0] != 0 {
		labels = append(labels, string(b[1:1+int(b[0])]))
		b = b[1+int(b[0]):]
	}
	return strings.Join(labels, ".")
}

// plainHostname reports whether name (without its trailing dot) is made of
// letters, digits, '-' and '_' in non-empty labels of at most 63 bytes, not
// all digits: a name every resolver and URL parser takes.
func plainHostname(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	nonNumeric := false
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
			nonNumeric = nonNumeric || c < '0' || c > '9'
		}
	}
	return nonNumeric // an all-numeric name is no host name to the resolver
}

// FuzzSRVDiscover answers the SRV lookups of SRVDiscoverer from fuzzed
// records through an in-memory DNS server. Invariants: no panic and no
// hang; an error exactly when no URL comes back, naming the domain; every
// URL is one New accepts, made of a record's target and port with the
// record's scheme (https for _etcd-client-ssl), https ones first, without
// duplicates; and every record with a plain host name and a non-zero port
// gives its URL, even when other records of the answer are malformed.
func FuzzSRVDiscover(f *testing.F) {
	rec := func(ssl bool, port uint16, target string) []byte {
		b := []byte{0, 0, 10, 0, 5, byte(port >> 8), byte(port), byte(len(target))}
		if ssl {
			b[0] = 1
		}
		return append(b, target...)
	}
	f.Add("example.com", "", uint8(0), append(rec(false, 2379, "etcd1.example.com."), rec(false, 2379, "etcd2.example.com.")...))
	f.Add("example.com", "", uint8(0), append(rec(true, 2379, "etcd1.example.com."), rec(false, 2379, "etcd1.example.com.")...))
	f.Add("example.com.", "prod", uint8(0), rec(true, 0, "zero.example.com."))
	f.Add("example.com", "", uint8(0), append(rec(false, 2379, "bad name!.example.com."), rec(false, 2380, "good.example.com.")...))
	f.Add("example.com", "", uint8(3), rec(false, 2379, "etcd1.example.com."))
	f.Add("", "", uint8(0), []byte(nil))
	f.Add("example.com", "", uint8(0), rec(false, 2379, "."))
	f.Fuzz(func(t *testing.T, domain, service string, rcode uint8, data []byte) {
		records := parseSRVRecords(data)
		rc := rcode % 6
		d := &SRVDiscoverer{ServiceName: service, Resolver: &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
				return &dnsConn{records: records, rcode: rc}, nil
			},
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		urls, err := d.DiscoverContext(ctx, domain)
		if ctx.Err() != nil {
			t.Fatalf("discovery ran into the test's deadline: %v", err)
		}
		if (err == nil) == (len(urls) == 0) {
			t.Fatalf("urls %q and error %v", urls, err)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "client: SRV discovery") && !(errors.Is(err, ErrInvalidArgument) && strings.Contains(err.Error(), "SRV discovery needs a domain")) {
				t.Fatalf("error does not say what failed: %v", err)
			}
			var dnsErr *net.DNSError
			_ = errors.As(err, &dnsErr)
		}
		seen := map[string]bool{}
		httpSeen := false
		for _, u := range urls {
			if seen[u] {
				t.Fatalf("duplicate %q in %q", u, urls)
			}
			seen[u] = true
			if _, err := parseEndpoint(u); err != nil {
				t.Fatalf("discovered endpoint %q is refused by New: %v", u, err)
			}
			if strings.HasPrefix(u, "http://") {
				httpSeen = true
			} else if httpSeen {
				t.Fatalf("https after http in %q", urls)
			}
			// Each URL comes from a record of its scheme.
			found := false
			for _, r := range records {
				host := wireName(r.target)
				scheme := "http://"
				if r.ssl {
					scheme = "https://"
				}
				if strings.EqualFold(u, scheme+net.JoinHostPort(host, strconv.Itoa(int(r.port)))) {
					found = true
				}
			}
			if !found {
				t.Fatalf("discovered %q matches no record of %+v", u, records)
			}
		}
		suffix := ""
		if service != "" {
			suffix = "-" + service
		}
		if rc != 0 || strings.TrimSuffix(domain, ".") == "" || !plainHostname("_etcd-client-ssl"+suffix+"._tcp."+strings.TrimSuffix(domain, ".")) {
			return
		}
		for _, r := range records {
			if r.port == 0 || !plainHostname(wireName(r.target)) {
				continue
			}
			scheme := "http://"
			if r.ssl {
				scheme = "https://"
			}
			want := scheme + net.JoinHostPort(wireName(r.target), strconv.Itoa(int(r.port)))
			if !slices.ContainsFunc(urls, func(u string) bool { return strings.EqualFold(u, want) }) {
				t.Fatalf("record %+v gave no URL; got %q, %v", r, urls, err)
			}
		}
	})
}
