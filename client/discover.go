// Discoverer: endpoints from DNS SRV records.

package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Discoverer is an interface that wraps the Discover method.
type Discoverer interface {
	// Discover looks up the etcd servers for the domain.
	Discover(domain string) ([]string, error)
}

// NewSRVDiscover constructs a new Discoverer that uses the stdlib to lookup SRV records.
func NewSRVDiscover() Discoverer {
	return &SRVDiscoverer{}
}

// SRVDiscoverer finds a cluster's client endpoints in DNS SRV records, the
// way etcd publishes them: _etcd-client-ssl._tcp.<domain> for https and
// _etcd-client._tcp.<domain> for http. The zero value uses the system
// resolver and no service name.
type SRVDiscoverer struct {
	// Resolver does the lookups; nil means net.DefaultResolver.
	Resolver *net.Resolver
	// ServiceName, when set, selects the records of a named cluster:
	// _etcd-client-ssl-<name>._tcp and _etcd-client-<name>._tcp.
	ServiceName string
}

// Discover is DiscoverContext without a deadline of its own (the resolver's
// timeouts apply).
func (d *SRVDiscoverer) Discover(domain string) ([]string, error) {
	return d.DiscoverContext(context.Background(), domain)
}

// DiscoverContext looks up both record sets and returns their URLs, https
// first, each set in the order DNS gives it (priority, then weight). Targets
// lose their trailing dot; duplicates are dropped. It fails only when
// neither lookup gives a usable record, and the error names both lookups.
func (d *SRVDiscoverer) DiscoverContext(ctx context.Context, domain string) ([]string, error) {
	domain = strings.TrimSuffix(domain, ".")
	if domain == "" {
		return nil, invalidArg("domain", "empty; SRV discovery needs a domain")
	}
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	suffix := ""
	if d.ServiceName != "" {
		suffix = "-" + d.ServiceName
	}
	var urls []string
	seen := map[string]bool{}
	var errs []error
	for _, s := range []struct{ service, scheme string }{
		{"etcd-client-ssl" + suffix, "https"},
		{"etcd-client" + suffix, "http"},
	} {
		_, addrs, err := r.LookupSRV(ctx, s.service, "tcp", domain)
		if err != nil {
			// When some records of an answer have malformed target names,
			// the resolver returns the well-formed ones along with the
			// error: those are used.
			errs = append(errs, fmt.Errorf("_%s._tcp.%s: %w", s.service, domain, err))
		}
		for _, a := range addrs {
			host := strings.TrimSuffix(a.Target, ".")
			if host == "" || a.Port == 0 {
				continue
			}
			u := s.scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(a.Port)))
			if !seen[u] {
				seen[u] = true
				urls = append(urls, u)
			}
		}
	}
	if len(urls) == 0 {
		if len(errs) == 0 {
			errs = append(errs, errors.New("no usable SRV records"))
		}
		return nil, fmt.Errorf("client: SRV discovery for %s found no endpoints: %w", domain, errors.Join(errs...))
	}
	return urls, nil
}
