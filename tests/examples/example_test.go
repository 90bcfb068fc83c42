package examples_test

import (
	"context"
	"fmt"
	"log"
	"sort"

	"github.com/meycoin/goetcd/client"
)

// exampleEndpoints and exampleTransport are what the examples connect with;
// TestMain points them at a real etcd 3.5 and a validating transport.
var (
	exampleEndpoints []string
	exampleTransport client.CancelableTransport
)

// ExampleKeysAPI_directory creates a directory, adds two keys to it and lists
// them, as the package documentation shows.
func ExampleKeysAPI_directory() {
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

// ExampleKeysAPI_setget sets a key and reads it back, as the package
// documentation shows.
func ExampleKeysAPI_setget() {
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
