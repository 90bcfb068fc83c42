package v3keys

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/meycoin/goetcd/v3keys/internal/v3gen"
)

// gatewayTxn is a read transaction's answer as etcd 3.5's gateway frames
// it: two ranges, the first with two keys (one with a lease, one with an
// empty value), the second empty.
const gatewayTxn = `{"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","revision":"42","raft_term":"2"},"succeeded":true,"responses":[` +
	`{"response_range":{"header":{"revision":"42"},"kvs":[{"key":"L3YyLzAwMS9qb2JzAA==","create_revision":"5","mod_revision":"5","version":"1"},` +
	`{"key":"L3YyLzAwMi9qb2JzLzQyAQ==","create_revision":"6","mod_revision":"41","version":"3","value":"cGVuZGluZw==","lease":"7587869345612811012"},` +
	`{"key":"L3YyLzAwMi9qb2JzLzQzAQ==","create_revision":"7","mod_revision":"7","version":"1","value":""}],"count":"3"}},` +
	`{"response_range":{"header":{"revision":"42"}}}]}` + "\n"

// jsonTxn is what encoding/json makes of data.
func jsonTxn(data []byte) (v3gen.TxnResponse, error) {
	var out v3gen.TxnResponse
	err := json.NewDecoder(bytes.NewReader(data)).Decode(&out)
	return out, err
}

// TestDecodeTxn: the gateway's plain form takes the scan (not
// encoding/json), and every input, plain or not, decodes as encoding/json
// decodes it.
func TestDecodeTxn(t *testing.T) {
	var plain v3gen.TxnResponse
	if err := (&txnScanner{d: []byte(gatewayTxn), s: gatewayTxn}).txn(&plain); err != nil {
		t.Fatalf("the gateway's answer did not take the scan: %v", err)
	}
	if string(plain.Responses[0].ResponseRange.Kvs[1].Value) != "pending" || plain.Header.Revision != "42" || plain.Responses[0].ResponseRange.Kvs[1].Lease != "7587869345612811012" {
		t.Errorf("scan: %+v", plain)
	}
	for _, in := range []string{
		gatewayTxn,
		`{}`, `null`, `{"succeeded":false,"responses":[]}`,
		strings.Replace(gatewayTxn, `"key"`, `"KEY"`, 1),                      // case-folded field name
		strings.Replace(gatewayTxn, `"version":"1"`, `"version":"\u0031"`, 1), // escape
		strings.Replace(gatewayTxn, `"kvs":[`, `"kvs":null,"kvs":[`, 1),       // null and a repeated key
		strings.Replace(gatewayTxn, `"response_range"`, `"response_put"`, 1),  // another kind of answer
		strings.Replace(gatewayTxn, `"count":"3"`, `"count":3`, 1),            // a number where a string is due
		strings.Replace(gatewayTxn, `cGVuZGluZw==`, `cGVuZGluZw`, 1),          // bad base64
		`{"header":{"revision":"1"}} trailing`,
		`{"header":{"revision":"1"`,
	} {
		want, wantErr := jsonTxn([]byte(in))
		var got v3gen.TxnResponse
		err := decodeTxn([]byte(in), &got)
		if (err != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeTxn(%.60q…) = %+v, %v; encoding/json gives %+v, %v", in, got, err, want, wantErr)
		}
	}
}

// FuzzDecodeTxn: whatever the scan accepts, encoding/json accepts and
// decodes to the same value.
func FuzzDecodeTxn(f *testing.F) {
	f.Add([]byte(gatewayTxn))
	f.Add([]byte(`{"responses":[{"response_range":{"kvs":[{"key":"","value":"AA=="}],"more":true}}],"succeeded":false}`))
	f.Add([]byte(`{"header":{},"responses":[{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got v3gen.TxnResponse
		if (&txnScanner{d: data, s: string(data)}).txn(&got) != nil {
			return
		}
		want, err := jsonTxn(data)
		if err != nil {
			t.Fatalf("the scan accepted %q, encoding/json refuses it: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: scan %+v, encoding/json %+v", data, got, want)
		}
	})
}

// bigTxn is a read answer with n keys in its first range, as a recursive
// Get of a directory of n files receives.
func bigTxn(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","revision":"200042","raft_term":"2"},"succeeded":true,"responses":[{"response_range":{"header":{"revision":"200042"},"kvs":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		key := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "/v2/002/big/k%06d\x01", i))
		val := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "value-%d", i))
		fmt.Fprintf(&b, `{"key":"%s","create_revision":"%d","mod_revision":"%d","version":"1","value":"%s"}`, key, i+10, i+10, val)
	}
	fmt.Fprintf(&b, `],"count":"%d"}},{"response_range":{"header":{"revision":"200042"}}}]}`, n)
	return b.Bytes()
}

// BenchmarkDecodeTxn decodes the answer of a recursive Get of 100,000
// files with decodeTxn and, for comparison, encoding/json.
func BenchmarkDecodeTxn(b *testing.B) {
	data := bigTxn(100_000)
	b.Run("decodeTxn", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var out v3gen.TxnResponse
			if err := decodeTxn(data, &out); err != nil || len(out.Responses[0].ResponseRange.Kvs) != 100_000 {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := jsonTxn(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
