// Package auth tests the v2 auth API against a real etcd of every supported
// server version: users, roles and their permissions on the key space, the
// guest role that enabling auth creates, credentials refused or missing,
// password changes, and the not-found predicates of every call. Every
// exchange is validated against openapi.yaml.
package auth

import (
	"strings"
	"testing"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestMain builds etcd 3.5 before any test starts its clock and checks that
// nothing outlives the tests.
func TestMain(m *testing.M) {
	etcdtest.Main(m)
}

// identity is one set of credentials and the APIs made with them.
type identity struct {
	name   string
	c      client.Client
	tr     *clienttest.Transport
	keys   client.KeysAPI
	users  client.AuthUserAPI
	roles  client.AuthRoleAPI
	auth   client.AuthStatusAPI
	member client.MembersAPI
}

func newIdentity(t *testing.T, endpoints []string, name, user, password string) *identity {
	t.Helper()
	c, tr := clienttest.New(t, endpoints, client.Config{Username: user, Password: password})
	return &identity{
		name:   name,
		c:      c,
		tr:     tr,
		keys:   client.NewKeysAPI(c),
		users:  client.NewAuthUserAPI(c),
		roles:  client.NewAuthRoleAPI(c),
		auth:   client.NewAuthStatusAPI(c),
		member: client.NewMembersAPI(c),
	}
}

// errorLog collects every error a test met, to check at the end that no
// password shows in any of them.
type errorLog struct {
	errs []error
}

// keep records err (if any) and returns it.
func (l *errorLog) keep(err error) error {
	if err != nil {
		l.errs = append(l.errs, err)
	}
	return err
}

// checkNoSecrets fails the test when an error text holds a password.
func (l *errorLog) checkNoSecrets(t *testing.T, passwords ...string) {
	t.Helper()
	if len(l.errs) == 0 {
		t.Error("no error was collected; the check would prove nothing")
	}
	for _, err := range l.errs {
		for _, pw := range passwords {
			if strings.Contains(err.Error(), pw) {
				t.Errorf("an error shows the password %q: %v", pw, err)
			}
		}
	}
}

// checkContract fails the test unless tr saw exchanges and no violation.
func checkContract(t *testing.T, who string, tr *clienttest.Transport) {
	t.Helper()
	if tr.Exchanges() == 0 {
		t.Errorf("%s: no exchange went through the contract transport", who)
	}
	if v := tr.Violations(); v != 0 {
		t.Errorf("%s: %d contract violations (see above)", who, v)
	}
}
