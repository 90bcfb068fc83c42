package etcdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TLSFiles names the PEM files for a TLS cluster (see WithTLS).
type TLSFiles struct {
	// CAFile is passed as --trusted-ca-file and is the CA clients trust.
	CAFile string
	// CertFile and KeyFile are the server certificate and key.
	CertFile, KeyFile string
	// ClientCertFile and ClientKeyFile are what the harness presents in its
	// own health and leader probes; --client-cert-auth rejects them otherwise.
	ClientCertFile, ClientKeyFile string
}

// ClientConfig returns a client TLS configuration that trusts CAFile and
// presents the client certificate when one is set.
func (f TLSFiles) ClientConfig() (*tls.Config, error) {
	caPEM, err := os.ReadFile(f.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s", f.CAFile)
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if f.ClientCertFile != "" {
		pair, err := tls.LoadX509KeyPair(f.ClientCertFile, f.ClientKeyFile)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// CA is a throwaway certificate authority for TLS tests, with a server
// certificate for 127.0.0.1, ::1 and localhost and one client certificate,
// all written to a t.TempDir().
type CA struct {
	// Dir holds every file the CA writes.
	Dir string
	// CertFile is the CA certificate (PEM).
	CertFile string
	// Cert is the parsed CA certificate.
	Cert *x509.Certificate
	// ServerCertFile and ServerKeyFile serve 127.0.0.1, ::1 and localhost.
	// The certificate also allows client auth, because etcd 3.5's gRPC
	// gateway dials its own client port with it.
	ServerCertFile, ServerKeyFile string
	// ClientCertFile and ClientKeyFile carry the common name
	// DefaultClientCommonName.
	ClientCertFile, ClientKeyFile string

	key *ecdsa.PrivateKey
}

// DefaultClientCommonName is the CN of CA.ClientCertFile. It is not "root"
// on purpose: with client-cert-auth, etcd maps the CN to a v2 auth user, and
// a test should ask for root privileges explicitly via IssueClientCert.
const DefaultClientCommonName = "goetcd-test-client"

// NewTestCA creates the CA, a server certificate and a client certificate.
func NewTestCA(t testing.TB) *CA {
	t.Helper()
	ca, err := newCA(t.TempDir())
	if err != nil {
		t.Fatalf("etcdtest: creating test CA: %v", err)
	}
	return ca
}

func newCA(dir string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "goetcd test CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := createCert(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{Dir: dir, CertFile: filepath.Join(dir, "ca.pem"), Cert: cert, key: key}
	if err := writePEM(ca.CertFile, "CERTIFICATE", der); err != nil {
		return nil, err
	}
	ca.ServerCertFile, ca.ServerKeyFile, err = ca.issue("server", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, err
	}
	ca.ClientCertFile, ca.ClientKeyFile, err = ca.issueClient(DefaultClientCommonName)
	if err != nil {
		return nil, err
	}
	return ca, nil
}

// Files returns the server files plus the default client certificate, ready
// for WithTLS.
func (ca *CA) Files() TLSFiles {
	return TLSFiles{
		CAFile:         ca.CertFile,
		CertFile:       ca.ServerCertFile,
		KeyFile:        ca.ServerKeyFile,
		ClientCertFile: ca.ClientCertFile,
		ClientKeyFile:  ca.ClientKeyFile,
	}
}

// Pool returns a certificate pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// IssueClientCert writes a client certificate with the given common name,
// which etcd's client-cert-auth treats as the v2 auth user name.
func (ca *CA) IssueClientCert(t testing.TB, commonName string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, err := ca.issueClient(commonName)
	if err != nil {
		t.Fatalf("etcdtest: issuing client certificate %q: %v", commonName, err)
	}
	return certFile, keyFile
}

// ClientTLSConfig returns a configuration trusting this CA and presenting the
// given client certificate; empty file names mean no client certificate, to
// test that the server refuses such clients.
func (ca *CA) ClientTLSConfig(t testing.TB, certFile, keyFile string) *tls.Config {
	t.Helper()
	tc := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatalf("etcdtest: %v", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc
}

func (ca *CA) issueClient(commonName string) (string, string, error) {
	if commonName == "" {
		return "", "", errors.New("empty common name")
	}
	return ca.issue("client-"+commonName, &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func (ca *CA) issue(base string, tmpl *x509.Certificate) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := createCert(tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile = filepath.Join(ca.Dir, base+".pem")
	keyFile = filepath.Join(ca.Dir, base+"-key.pem")
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return "", "", err
	}
	if err := writePEM(keyFile, "PRIVATE KEY", keyDER); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// createCert fills in serial and validity: backdated an hour so a clock step
// between processes cannot make a fresh certificate "not yet valid".
func createCert(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
}

func writePEM(path, blockType string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600)
}

// StartTLSCluster starts a 1-member cluster of s that serves https and
// requires client certificates, signed by a CA made for the test, and
// returns it with that CA and its endpoints; it fails the test when the
// member does not serve https.
func StartTLSCluster(t testing.TB, s Server) (*Cluster, *CA, []string) {
	t.Helper()
	ca := NewTestCA(t)
	cl := StartCluster(t, s, 1, WithTLS(ca.Files()))
	eps := cl.Endpoints()
	if !strings.HasPrefix(eps[0], "https://") {
		t.Fatalf("etcdtest: endpoint %s is not https", eps[0])
	}
	return cl, ca, eps
}
