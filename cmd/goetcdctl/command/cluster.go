// The connection to the cluster: endpoints (flags, ETCDCTL_* variables, DNS
// SRV discovery), TLS, credentials (with a prompt that does not echo), the
// membership sync before each command, and --debug.
package command

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/urfave/cli"
	"golang.org/x/term"
)

// defaultEndpoints is etcdctl's default: the client port of today and the
// legacy one.
const defaultEndpoints = "http://127.0.0.1:2379,http://127.0.0.1:4001"

// defaultDialTimeout bounds connection set-up, unless --total-timeout is
// shorter.
const defaultDialTimeout = 30 * time.Second

// globalOrEnv returns the global flag's value, or the variable's when the
// flag is empty.
func (r *runner) globalOrEnv(c *cli.Context, flag, env string) string {
	if v := c.GlobalString(flag); v != "" {
		return v
	}
	return r.env.Getenv(env)
}

// endpoints returns the cluster's client URLs: from DNS SRV records when a
// discovery domain is given and they name any, else from --endpoints,
// ETCDCTL_ENDPOINTS, --endpoint, ETCDCTL_ENDPOINT, --peers, ETCDCTL_PEERS,
// in that order, else the default. An endpoint without a scheme gets http.
func (r *runner) endpoints(c *cli.Context) ([]string, error) {
	eps, err := r.discover(c)
	if err != nil {
		return nil, err
	}
	if len(eps) == 0 {
		list := ""
		for _, src := range [][2]string{{"endpoints", "ETCDCTL_ENDPOINTS"}, {"endpoint", "ETCDCTL_ENDPOINT"}, {"peers", "ETCDCTL_PEERS"}} {
			if list = r.globalOrEnv(c, src[0], src[1]); list != "" {
				break
			}
		}
		if list == "" {
			list = defaultEndpoints
		}
		eps = strings.Split(list, ",")
	}
	for i, ep := range eps {
		ep = strings.TrimSpace(ep)
		if !strings.Contains(ep, "://") {
			ep = "http://" + ep
		}
		eps[i] = ep
	}
	return eps, nil
}

// discoveryDomain returns --discovery-srv (or ETCDCTL_DISCOVERY_SRV),
// whether http endpoints found there are accepted, and the service name of
// ETCDCTL_DISCOVERY_SRV_NAME.
func (r *runner) discoveryDomain(c *cli.Context) (domain string, insecure bool, service string) {
	domain = r.globalOrEnv(c, "discovery-srv", "ETCDCTL_DISCOVERY_SRV")
	insecure = c.GlobalBool("insecure-discovery") || r.env.Getenv("ETCDCTL_INSECURE_DISCOVERY") != ""
	return domain, insecure, r.env.Getenv("ETCDCTL_DISCOVERY_SRV_NAME")
}

func (r *runner) discover(c *cli.Context) ([]string, error) {
	domain, insecure, service := r.discoveryDomain(c)
	if domain == "" {
		return nil, nil
	}
	ctx, cancel := r.totalTimeout(c)
	defer cancel()
	found, err := (&client.SRVDiscoverer{ServiceName: service}).DiscoverContext(ctx, domain)
	if err != nil {
		return nil, err
	}
	if insecure {
		return found, nil
	}
	var eps []string
	for _, ep := range found {
		if strings.HasPrefix(ep, "http://") {
			fmt.Fprintf(r.env.Stderr, "ignoring discovered insecure endpoint %q\n", ep)
			continue
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

// transport builds the HTTP transport from --ca-file, --cert-file and
// --key-file (or ETCDCTL_CA_FILE, ETCDCTL_CERT_FILE, ETCDCTL_KEY_FILE).
// Certificates found by secure discovery are checked against the domain.
func (r *runner) transport(c *cli.Context) (client.CancelableTransport, error) {
	if r.env.Transport != nil {
		return r.env.Transport, nil
	}
	caFile := r.globalOrEnv(c, "ca-file", "ETCDCTL_CA_FILE")
	certFile := r.globalOrEnv(c, "cert-file", "ETCDCTL_CERT_FILE")
	keyFile := r.globalOrEnv(c, "key-file", "ETCDCTL_KEY_FILE")

	tr := client.DefaultTransport.(*http.Transport).Clone()
	dial := defaultDialTimeout
	if total := c.GlobalDuration("total-timeout"); total > 0 && total < dial {
		dial = total
	}
	tr.DialContext = (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if domain, insecure, _ := r.discoveryDomain(c); domain != "" && !insecure {
		cfg.ServerName = domain
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading --ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, errors.New("--cert-file and --key-file go together: give both or neither")
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading --cert-file %s and --key-file %s: %w", certFile, keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = cfg
	r.closer = append(r.closer, tr.CloseIdleConnections)
	return tr, nil
}

// newClient makes the client of a command. Unless --no-sync (or noSync) is
// given, it first learns the members' client URLs from the cluster, as
// etcdctl does.
func (r *runner) newClient(c *cli.Context, noSync bool) (client.Client, error) {
	eps, err := r.endpoints(c)
	if err != nil {
		return nil, fail(ExitBadArgs, "%v", err)
	}
	tr, err := r.transport(c)
	if err != nil {
		return nil, fail(ExitBadArgs, "%v", err)
	}
	cfg := client.Config{Endpoints: eps, Transport: tr, HeaderTimeoutPerRequest: c.GlobalDuration("timeout")}
	if u := r.globalOrEnv(c, "username", "ETCDCTL_USERNAME"); u != "" {
		name, pass, ok := strings.Cut(u, ":")
		if !ok {
			p, err := r.readPassword("Password: ")
			if err != nil {
				return nil, fail(ExitBadArgs, "%v", err)
			}
			pass = p
		}
		cfg.Username, cfg.Password = name, pass
	}
	r.cfg = cfg
	hc, err := client.New(cfg)
	if err != nil {
		return nil, fail(ExitBadArgs, "%v", err)
	}
	debug := c.GlobalBool("debug")
	if debug {
		// The library redacts credentials in what it prints.
		client.EnablecURLDebug()
		r.closer = append(r.closer, client.DisablecURLDebug)
	}
	if !noSync && !c.GlobalBool("no-sync") {
		if debug {
			fmt.Fprintf(r.env.Stderr, "start to sync cluster using endpoints(%s)\n", strings.Join(hc.Endpoints(), ","))
		}
		ctx, cancel := r.totalTimeout(c)
		err := hc.Sync(ctx)
		cancel()
		switch {
		case errors.Is(err, client.ErrNoEndpoints):
			fmt.Fprintf(r.env.Stderr, "etcd cluster has no published client endpoints.\n")
			fmt.Fprintf(r.env.Stderr, "Try '--no-sync' if you want to access non-published client endpoints(%s).\n", strings.Join(hc.Endpoints(), ","))
			return nil, r.keysError(c, err)
		case errors.Is(err, client.ErrClusterUnavailable) || errors.Is(err, context.DeadlineExceeded):
			return nil, r.errorWithCode(c, ExitBadConnection, err)
		}
		if debug {
			fmt.Fprintf(r.env.Stderr, "got endpoints(%s) after sync\n", strings.Join(hc.Endpoints(), ","))
		}
	}
	if debug {
		fmt.Fprintf(r.env.Stderr, "Cluster-Endpoints: %s\n", strings.Join(hc.Endpoints(), ", "))
	}
	return hc, nil
}

// keysError is how a failed keys call ends the command: exit 4 with the
// error, as etcdctl prints it.
func (r *runner) keysError(c *cli.Context, err error) error {
	return r.errorWithCode(c, ExitServerError, err)
}

// errorWithCode renders err as etcdctl does ("Error:  " and the error, then
// each endpoint's cause when no member answered), except that with --output
// json an etcd keys error is etcd's own JSON error document.
func (r *runner) errorWithCode(c *cli.Context, code int, err error) error {
	var ke client.Error
	if c.GlobalString("output") == "json" && errors.As(err, &ke) {
		return fail(code, "%s", mustJSON(ke))
	}
	msg := "Error:  " + describe(err)
	var ce *client.ClusterError
	if errors.As(err, &ce) {
		msg += "\n" + strings.TrimSuffix(ce.Detail(), "\n")
	}
	return fail(code, "%s", msg)
}

// describe is err's text, with a context deadline made to say which limit
// ran out.
func describe(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return err.Error() + " (--total-timeout ran out)"
	}
	return err.Error()
}

// lineReader reads standard input a line at a time for passwords and whole
// for values, through one buffer.
type lineReader struct{ *bufio.Reader }

func (r *runner) input() *lineReader {
	if r.stdin == nil {
		r.stdin = &lineReader{bufio.NewReader(r.env.Stdin)}
	}
	return r.stdin
}

// terminalFd returns the descriptor of f when it is a terminal.
func terminalFd(f any) (int, bool) {
	file, ok := f.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return 0, false
	}
	return int(file.Fd()), true
}

// readPassword asks for a password: on a terminal without echo (the prompt
// goes to standard error), otherwise as one line of standard input.
func (r *runner) readPassword(prompt string) (string, error) {
	if fd, ok := terminalFd(r.env.Stdin); ok {
		fmt.Fprint(r.env.Stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(r.env.Stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password from the terminal: %w", err)
		}
		return string(b), nil
	}
	fmt.Fprint(r.env.Stderr, prompt)
	line, err := r.input().ReadString('\n')
	fmt.Fprintln(r.env.Stderr)
	if err != nil && (err != io.EOF || line == "") {
		return "", errors.New("reading the password: standard input ended (give it on standard input or as user:password)")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// argOrStdin returns args[i], or all of standard input when there is no
// such argument.
func (r *runner) argOrStdin(args cli.Args, i int) (string, bool) {
	if i < len(args) {
		return args[i], true
	}
	b, err := io.ReadAll(r.input())
	if err != nil || len(b) == 0 {
		return "", false
	}
	return string(b), true
}
