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

// ExampleMigrate moves a v2 tree into the v3 store while the application
// still writes to v2, then, once its writers are stopped, catches up and
// compares the two trees before the switch.
func ExampleMigrate() {
	c, err := client.New(client.Config{Endpoints: []string{"http://127.0.0.1:2379"}})
	if err != nil {
		log.Fatal(err)
	}
	v2 := client.NewKeysAPI(c)
	v3, err := v3keys.New(v3keys.Config{Endpoints: []string{"http://127.0.0.1:2379"}, Prefix: "/myapp"})
	if err != nil {
		log.Fatal(err)
	}
	// Copy, then return once every change made meanwhile is applied (with
	// Follow, it would go on until ctx ends; a run stopped at any point
	// resumes where it stopped).
	p, err := v3keys.Migrate(context.Background(), v2, v3, v3keys.MigrateOptions{
		Progress: func(p v3keys.MigrateProgress) {
			log.Printf("%s: %d/%d nodes, lag %d", p.Phase, p.KeysCopied, p.KeysTotal, p.LagIndexes)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	diffs, err := v3keys.Verify(context.Background(), v2, v3, v3keys.VerifyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.KeysTotal, "nodes,", len(diffs), "differences")
}
