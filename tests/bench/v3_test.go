package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	goetcd "github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/v3keys"
)

// nameGoetcdV3 is the v3 backend (package v3keys): the same KeysAPI kept in
// etcd's v3 store, over the v3 JSON gateway.
const nameGoetcdV3 = "goetcd-v3"

// newV3KV is the v3 backend on goetcd's tuned transport.
func newV3KV(tb testing.TB, endpoint string, d *countingDialer) kv {
	tb.Helper()
	tr, wtr := goetcdTransports(d)
	k, err := v3keys.New(v3keys.Config{Endpoints: []string{endpoint}, Transport: tr, WatchTransport: wtr})
	if err != nil {
		tb.Fatal(err)
	}
	return &goetcdKV{kapi: k, tr: tr, wtr: wtr, d: d}
}

// The canned v3 answers are framed as etcd 3.5.35's gateway frames them
// (captured with `curl --raw -i`): its headers in its order, Content-Length
// for small answers, one chunk of Transfer-Encoding: chunked for large ones,
// and no newline after the JSON.
const gatewayHeaders = "Access-Control-Allow-Headers: accept, content-type, authorization\r\n" +
	"Access-Control-Allow-Methods: POST, GET, OPTIONS, PUT, DELETE\r\n" +
	"Access-Control-Allow-Origin: *\r\n" +
	"Content-Type: application/json\r\n" +
	"Grpc-Metadata-Content-Type: application/grpc\r\n"

// gatewayAnswer frames body as the gateway does.
func gatewayAnswer(body []byte, chunked bool) []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	b.WriteString(gatewayHeaders)
	writeBody(&b, body, chunked)
	return b.Bytes()
}

const gatewayHeader = `"header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952","revision":"%d","raft_term":"2"}`

// v3KV writes one key as the gateway answers it.
func v3KV(b *bytes.Buffer, key, value string, index int) {
	fmt.Fprintf(b, `{"key":"%s","create_revision":"%d","mod_revision":"%d","version":"1"`, base64.StdEncoding.EncodeToString([]byte(key)), index, index)
	if value != "" {
		fmt.Fprintf(b, `,"value":"%s"`, base64.StdEncoding.EncodeToString([]byte(value)))
	}
	b.WriteByte('}')
}

// v3TxnBody is the gateway's answer to the v3 backend's read transaction
// of a Get: one range per element of the key's chain (its node, found),
// then one per level below it, the first holding children and the rest
// empty.
func v3TxnBody(index int, node func(*bytes.Buffer), children []func(*bytes.Buffer), emptyLevels int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{`+gatewayHeader+`,"succeeded":true,"responses":[`, index)
	fmt.Fprintf(&b, `{"response_range":{"header":{"revision":"%d"},"kvs":[`, index)
	node(&b)
	b.WriteString(`],"count":"1"}}`)
	if len(children) > 0 {
		fmt.Fprintf(&b, `,{"response_range":{"header":{"revision":"%d"},"kvs":[`, index)
		for i, c := range children {
			if i > 0 {
				b.WriteByte(',')
			}
			c(&b)
		}
		fmt.Fprintf(&b, `],"count":"%d"}}`, len(children))
	}
	for range emptyLevels {
		fmt.Fprintf(&b, `,{"response_range":{"header":{"revision":"%d"}}}`, index)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// v3SmallGet is the answer to the v3 backend's Get("/foo"): the file
// /foo = bar and its empty level.
func v3SmallGet() []byte {
	return gatewayAnswer(v3TxnBody(smallIndex, func(b *bytes.Buffer) {
		v3KV(b, v3keys.DefaultPrefix+"/001/foo\x01", "bar", smallIndex)
	}, nil, 1), false)
}

// v3BigGet is the answer to the v3 backend's recursive Get of /big: the
// directory, its 100,000 files with the values of bigDirBody, and the 15
// empty levels below them that the first transaction also reads.
func v3BigGet() []byte {
	children := make([]func(*bytes.Buffer), bigChildren)
	for i := range children {
		children[i] = func(b *bytes.Buffer) {
			v3KV(b, fmt.Sprintf("%s/002/big/key-%06d\x01", v3keys.DefaultPrefix, i), fmt.Sprintf("value-%06d", i), 5+i)
		}
	}
	return gatewayAnswer(v3TxnBody(bigIndex, func(b *bytes.Buffer) {
		v3KV(b, v3keys.DefaultPrefix+"/001/big\x00", "", 4)
	}, children, 15), true)
}

// TestV3CannedAnswers checks that the canned v3 answers decode into what
// the v2 canned answers hold, through the v3 backend.
func TestV3CannedAnswers(t *testing.T) {
	srv := startCanned(t, map[string][]byte{"/v3/kv/txn": v3SmallGet()})
	c := newKV(t, nameGoetcdV3, srv.url)
	defer c.close()
	r, err := c.get(context.Background(), "/foo", false)
	if err != nil || r.value != "bar" || r.index != smallIndex {
		t.Fatalf("small Get: %+v %v", r, err)
	}
	big := startCanned(t, map[string][]byte{"/v3/kv/txn": v3BigGet()})
	k, err := v3keys.New(v3keys.Config{Endpoints: []string{big.url}, Transport: &http.Transport{}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := k.Get(context.Background(), bigKey, &goetcd.GetOptions{Recursive: true})
	if err != nil || len(g.Node.Nodes) != bigChildren || g.Index != bigIndex || !strings.HasSuffix(g.Node.Nodes[7].Key, "key-000007") {
		t.Fatalf("big Get: %v", err)
	}
}
