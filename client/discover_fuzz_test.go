package client

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

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
