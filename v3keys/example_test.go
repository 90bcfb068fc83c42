package v3keys_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/v3keys"
)

// ExampleNew moves code written against the v2 KeysAPI to etcd's v3 store:
// only the constructor changes.
func ExampleNew() {
	kapi, err := v3keys.New(v3keys.Config{
		Endpoints:               []string{"http://127.0.0.1:2379"},
		Prefix:                  "/myapp",
		HeaderTimeoutPerRequest: time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), client.DefaultRequestTimeout)
	defer cancel()
	if _, err := kapi.Create(ctx, "/jobs/42", "pending"); err != nil {
		log.Fatal(err)
	}
	resp, err := kapi.Get(ctx, "/jobs", &client.GetOptions{Recursive: true, Sort: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range resp.Node.Nodes {
		fmt.Println(n.Key, n.Value, n.CreatedIndex)
	}
}
