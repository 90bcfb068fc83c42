// Package goetcdstore is ../store, a third-party-style store written for
// go.etcd.io/etcd/client/v2, with only its import switched to
// github.com/meycoin/goetcd/client, as a user of the drop-in replacement
// would switch it. store.go is made from ../store/store.go by
//
//	go test ./dropin/ -run TestGoetcdStoreIsTheStore -update
//
// and that test fails when the two differ in anything else.
package goetcdstore
