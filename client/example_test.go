package client_test

// Testable examples: the package documentation's (Directory, Setget) and
// the main calls. They run in `go test` against the recorded answers of a
// real etcd, and in tests/examples against a real etcd (fakereplay_test.go).

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sort"

	"github.com/meycoin/goetcd/client"
)

// Create a directory, add two keys to it and list them.
func Example_directory() {
	c, err := client.New(client.Config{
		Endpoints: exampleEndpoints,
		Transport: exampleTransport,
	})
	if err != nil {
		log.Fatal(err)
	}
	kapi := client.NewKeysAPI(c)

	// Setting '/myNodes' to create a directory that will hold some keys.
	o := client.SetOptions{Dir: true}
	resp, err := kapi.Set(context.Background(), "/myNodes", "", &o)
	if err != nil {
		log.Fatal(err)
	}

	// Add keys to /myNodes directory.
	resp, err = kapi.Set(context.Background(), "/myNodes/key1", "value1", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err = kapi.Set(context.Background(), "/myNodes/key2", "value2", nil)
	if err != nil {
		log.Fatal(err)
	}

	// fetch directory
	resp, err = kapi.Get(context.Background(), "/myNodes", nil)
	if err != nil {
		log.Fatal(err)
	}
	// print directory keys
	sort.Sort(resp.Node.Nodes)
	for _, n := range resp.Node.Nodes {
		fmt.Printf("Key: %q, Value: %q\n", n.Key, n.Value)
	}

	// Output:
	// Key: "/myNodes/key1", Value: "value1"
	// Key: "/myNodes/key2", Value: "value2"
}

// Set a key and read it back.
func Example_setget() {
	c, err := client.New(client.Config{
		Endpoints: exampleEndpoints,
		Transport: exampleTransport,
	})
	if err != nil {
		log.Fatal(err)
	}
	kapi := client.NewKeysAPI(c)

	// Set key "/foo" to value "bar".
	resp, err := kapi.Set(context.Background(), "/foo", "bar", nil)
	if err != nil {
		log.Fatal(err)
	}
	// Get key "/foo"
	resp, err = kapi.Get(context.Background(), "/foo", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q key has %q value\n", resp.Node.Key, resp.Node.Value)

	// Output: "/foo" key has "bar" value
}

// Create a key that must not exist yet, then change it only if nobody else
// did in between (compare-and-swap on its index); a second swap from the
// same index fails with ErrorCodeTestFailed.
func ExampleKeysAPI_compareAndSwap() {
	c, err := client.New(client.Config{Endpoints: exampleEndpoints, Transport: exampleTransport})
	if err != nil {
		log.Fatal(err)
	}
	kapi := client.NewKeysAPI(c)
	ctx := context.Background()

	resp, err := kapi.Create(ctx, "/counter", "1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Action, resp.Node.Key, resp.Node.Value)

	// A second Create of the same key fails: it exists.
	_, err = kapi.Create(ctx, "/counter", "1")
	var e client.Error
	fmt.Println(errors.As(err, &e) && e.Code == client.ErrorCodeNodeExist)

	read := resp.Node.ModifiedIndex
	resp, err = kapi.Set(ctx, "/counter", "2", &client.SetOptions{PrevIndex: read})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Action, resp.PrevNode.Value, "->", resp.Node.Value)

	// The key changed since index read: this swap is refused.
	_, err = kapi.Set(ctx, "/counter", "3", &client.SetOptions{PrevIndex: read})
	fmt.Println(errors.As(err, &e) && e.Code == client.ErrorCodeTestFailed)

	// Output:
	// create /counter 1
	// true
	// compareAndSwap 1 -> 2
	// true
}

// Watch a directory from a known index: every change after it comes back
// in order, here one that happened before Next was called.
func ExampleWatcher() {
	c, err := client.New(client.Config{Endpoints: exampleEndpoints, Transport: exampleTransport})
	if err != nil {
		log.Fatal(err)
	}
	kapi := client.NewKeysAPI(c)
	ctx := context.Background()

	resp, err := kapi.Set(ctx, "/config/mode", "blue", nil)
	if err != nil {
		log.Fatal(err)
	}
	w := kapi.Watcher("/config", &client.WatcherOptions{AfterIndex: resp.Node.ModifiedIndex, Recursive: true})

	if _, err := kapi.Set(ctx, "/config/mode", "green", nil); err != nil {
		log.Fatal(err)
	}
	ev, err := w.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.Action, ev.Node.Key, ev.PrevNode.Value, "->", ev.Node.Value)

	// Output: set /config/mode blue -> green
}

// List the members of the cluster and find its leader.
func ExampleMembersAPI() {
	c, err := client.New(client.Config{Endpoints: exampleEndpoints, Transport: exampleTransport})
	if err != nil {
		log.Fatal(err)
	}
	mapi := client.NewMembersAPI(c)
	ctx := context.Background()

	members, err := mapi.List(ctx)
	if err != nil {
		log.Fatal(err)
	}
	leader, err := mapi.Leader(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range members {
		fmt.Println(len(m.ClientURLs) > 0, m.ID == leader.ID)
	}

	// Output: true true
}

// Turn authentication on: a root user first (etcd refuses to enable
// authentication without one), then calls carry credentials; root turns
// it off again.
func ExampleAuthAPI() {
	c, err := client.New(client.Config{Endpoints: exampleEndpoints, Transport: exampleTransport})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := client.NewAuthUserAPI(c).AddUser(ctx, "root", "example-password"); err != nil {
		log.Fatal(err)
	}
	if err := client.NewAuthAPI(c).Enable(ctx); err != nil {
		log.Fatal(err)
	}

	// Without credentials, a user list is refused.
	_, err = client.NewAuthUserAPI(c).ListUsers(ctx)
	fmt.Println(client.IsUnauthorized(err))

	root, err := client.New(client.Config{Endpoints: exampleEndpoints, Transport: exampleTransport,
		Username: "root", Password: "example-password"})
	if err != nil {
		log.Fatal(err)
	}
	users, err := client.NewAuthUserAPI(root).ListUsers(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(users)

	if err := client.NewAuthAPI(root).Disable(ctx); err != nil {
		log.Fatal(err)
	}
	if err := client.NewAuthUserAPI(c).RemoveUser(ctx, "root"); err != nil {
		log.Fatal(err)
	}
	enabled, err := client.NewAuthStatusAPI(c).Enabled(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(enabled)

	// Output:
	// true
	// [root]
	// false
}
