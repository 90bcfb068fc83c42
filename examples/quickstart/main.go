// Command quickstart walks through the keys API of goetcd against a running
// etcd with the v2 API enabled: create, set, get, compare-and-delete, a
// sorted directory listing and one watched change, printing each step.
//
//	go run ./examples/quickstart -endpoints http://127.0.0.1:2379
//
// `make demo` starts a throwaway etcd and runs it for you.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/meycoin/goetcd/client"
)

func main() {
	endpoints := flag.String("endpoints", envOr("ETCD_ENDPOINTS", "http://127.0.0.1:2379"), "comma-separated etcd client URLs")
	prefix := flag.String("prefix", "/quickstart", "directory the example works under")
	flag.Parse()
	if err := run(strings.Split(*endpoints, ","), *prefix); err != nil {
		log.Fatal(err)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(endpoints []string, dir string) error {
	c, err := client.New(client.Config{
		Endpoints:               endpoints,
		HeaderTimeoutPerRequest: 2 * time.Second,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kapi := client.NewKeysAPI(c)

	v, err := c.GetVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading the server version: %w", err)
	}
	fmt.Printf("connected: etcd server %s, cluster %s\n", v.Server, v.Cluster)

	// Start from a clean directory (a missing one is fine).
	if _, err := kapi.Delete(ctx, dir, &client.DeleteOptions{Recursive: true}); err != nil && !client.IsKeyNotFound(err) {
		return err
	}

	// 1. Create: succeeds only if the key does not exist yet.
	resp, err := kapi.Create(ctx, dir+"/greeting", "hello")
	if err != nil {
		return err
	}
	fmt.Printf("1. create  %s = %q (action %s, index %d)\n", resp.Node.Key, resp.Node.Value, resp.Action, resp.Node.ModifiedIndex)
	if _, err := kapi.Create(ctx, dir+"/greeting", "again"); err != nil {
		fmt.Printf("   create again fails as it should: %v\n", err)
	}

	// 2. Set: writes whatever is there.
	resp, err = kapi.Set(ctx, dir+"/greeting", "hello, world", nil)
	if err != nil {
		return err
	}
	fmt.Printf("2. set     %s = %q (was %q)\n", resp.Node.Key, resp.Node.Value, resp.PrevNode.Value)

	// 3. Get.
	resp, err = kapi.Get(ctx, dir+"/greeting", nil)
	if err != nil {
		return err
	}
	fmt.Printf("3. get     %s = %q (cluster index %d)\n", resp.Node.Key, resp.Node.Value, resp.Index)

	// 4. Compare-and-delete: only if the value is still what we read.
	if _, err := kapi.Delete(ctx, dir+"/greeting", &client.DeleteOptions{PrevValue: "stale"}); err != nil {
		fmt.Printf("4. delete if value is \"stale\": refused: %v\n", err)
	}
	resp, err = kapi.Delete(ctx, dir+"/greeting", &client.DeleteOptions{PrevValue: "hello, world"})
	if err != nil {
		return err
	}
	fmt.Printf("   delete if value is %q: %s\n", "hello, world", resp.Action)

	// 5. A sorted directory listing.
	for _, name := range []string{"cherry", "apple", "banana"} {
		if _, err := kapi.Set(ctx, dir+"/fruit/"+name, strings.ToUpper(name[:1])+name[1:], nil); err != nil {
			return err
		}
	}
	resp, err = kapi.Get(ctx, dir+"/fruit", &client.GetOptions{Sort: true})
	if err != nil {
		return err
	}
	fmt.Printf("5. list    %s (sorted):\n", resp.Node.Key)
	for _, n := range resp.Node.Nodes {
		fmt.Printf("           %s = %q\n", n.Key, n.Value)
	}

	// 6. Watch one change: the watcher starts after the listing's index, so
	// the write below cannot be missed even though it happens first.
	w := kapi.Watcher(dir+"/fruit", &client.WatcherOptions{AfterIndex: resp.Index, Recursive: true})
	if _, err := kapi.Set(ctx, dir+"/fruit/banana", "Plantain", nil); err != nil {
		return err
	}
	ev, err := w.Next(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("6. watch   %s %s: %q -> %q\n", ev.Action, ev.Node.Key, ev.PrevNode.Value, ev.Node.Value)

	if _, err := kapi.Delete(ctx, dir, &client.DeleteOptions{Recursive: true}); err != nil {
		return err
	}
	fmt.Println("done: cleaned up", dir)
	return nil
}
