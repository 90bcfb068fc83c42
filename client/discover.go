package client

import (
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
	return &srvDiscover{lookupSRV: net.LookupSRV}
}

// NewSRVDiscoverWithService is NewSRVDiscover for clusters published under a
// service name: it looks up _etcd-client-ssl-<name>._tcp and
// _etcd-client-<name>._tcp. An empty name is the plain lookup.
func NewSRVDiscoverWithService(serviceName string) Discoverer {
	return &srvDiscover{lookupSRV: net.LookupSRV, serviceName: serviceName}
}

type srvDiscover struct {
	lookupSRV   func(service, proto, name string) (string, []*net.SRV, error)
	serviceName string
}

// Discover looks up _etcd-client-ssl._tcp.<domain> (https endpoints) and
// _etcd-client._tcp.<domain> (http endpoints) and returns their URLs, https
// first, in the order DNS gives them (priority, then weighted). Targets lose
// their trailing dot. It fails only when neither lookup gives a record.
func (d *srvDiscover) Discover(domain string) ([]string, error) {
	if domain == "" {
		return nil, errors.New("client: SRV discovery needs a domain")
	}
	suffix := ""
	if d.serviceName != "" {
		suffix = "-" + d.serviceName
	}
	var urls []string
	seen := map[string]bool{}
	var errs []error
	for _, s := range []struct{ service, scheme string }{
		{"etcd-client-ssl" + suffix, "https"},
		{"etcd-client" + suffix, "http"},
	} {
		_, addrs, err := d.lookupSRV(s.service, "tcp", domain)
		if err != nil {
			errs = append(errs, fmt.Errorf("_%s._tcp.%s: %w", s.service, domain, err))
			continue
		}
		for _, a := range addrs {
			host := strings.TrimSuffix(a.Target, ".")
			if host == "" {
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
			errs = append(errs, errors.New("no SRV records"))
		}
		return nil, fmt.Errorf("client: SRV discovery for %s found no endpoints: %w", domain, errors.Join(errs...))
	}
	return urls, nil
}
