package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/generated"
)

// The keys requests built by hand must be those of the generated builders
// followed by fixPath: method, URL, headers, body and its rewind.
func TestKeysRequestsMatchGenerated(t *testing.T) {
	keys := []string{"", "foo", "a/b/c", "a b", "100%/x", "ключ", "q?x#y", "a+b&c=d", "semi;colon:at@", "%2F", "tab\tnl\n"}
	prefixes := []string{defaultV2KeysPrefix, "/custom/v2", ""}
	bools := []*bool{nil, boolPtr(true), new(bool)}
	idx := uint64(18446744073709551615)
	values := []*string{nil, new(string), ptr("v"), ptr("a b+c&d=e%f/g?h#ü\n")}
	ctx := context.Background()
	for _, prefix := range prefixes {
		k := &httpKeysAPI{prefix: prefix}
		for _, ck := range keys {
			for _, b1 := range bools {
				for _, b2 := range bools {
					p := generated.GetKeyParams{Recursive: b1, Sorted: b2, Quorum: b1, Wait: b2}
					if b1 != nil {
						p.WaitIndex = &idx
						p.Stream = b2
					}
					var want *http.Request
					var err error
					if ck == "" {
						want, err = generated.NewGetKeysRootRequest(placeholderServer, (*generated.GetKeysRootParams)(&p))
					} else {
						want, err = generated.NewGetKeyRequest(placeholderServer, ck, &p)
					}
					if err != nil {
						t.Fatal(err)
					}
					got, err := k.getRequest(ctx, ck, &p)
					sameRequest(t, k, want, got, err)
					for _, pv := range values {
						d := generated.DeleteKeyParams{Recursive: b1, Dir: b2, PrevValue: pv}
						if b2 != nil {
							d.PrevIndex = &idx
						}
						if ck == "" {
							want, err = rootOf(generated.NewDeleteKeyRequest(placeholderServer, "x", &d))
						} else {
							want, err = generated.NewDeleteKeyRequest(placeholderServer, ck, &d)
						}
						if err != nil {
							t.Fatal(err)
						}
						got, err = k.deleteRequest(ctx, ck, &d)
						sameRequest(t, k, want, got, err)
						for _, v := range values {
							f := generated.SetKeyForm{Dir: b1, NoValueOnSuccess: b2, PrevExist: b1, Refresh: b2, PrevValue: pv, Value: v}
							if b1 != nil {
								f.PrevIndex = &idx
							}
							if b2 != nil {
								ttl := uint64(5)
								f.Ttl = &ttl
							}
							if ck == "" {
								want, err = rootOf(generated.NewSetKeyRequestWithFormdataBody(placeholderServer, "x", f))
							} else {
								want, err = generated.NewSetKeyRequestWithFormdataBody(placeholderServer, ck, f)
							}
							if err != nil {
								t.Fatal(err)
							}
							got, err = k.setRequest(ctx, ck, &f)
							sameRequest(t, k, want, got, err)
						}
					}
				}
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// rootOf turns the generated request for the key "x" into the same request
// on the root directory: the spec offers no PUT or DELETE of the root, which
// etcd always refuses, so there is no generated builder for them.
func rootOf(r *http.Request, err error) (*http.Request, error) {
	if err == nil {
		r.URL.Path = strings.TrimSuffix(r.URL.Path, "/x")
	}
	return r, err
}

func sameRequest(t *testing.T, k *httpKeysAPI, want, got *http.Request, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	k.fixPath(want)
	if got.Method != want.Method || got.URL.String() != want.URL.String() || *got.URL != *want.URL || got.Host != want.Host {
		t.Fatalf("request %s %s (%#v), want %s %s (%#v)", got.Method, got.URL, *got.URL, want.Method, want.URL, *want.URL)
	}
	if !reflect.DeepEqual(got.Header, want.Header) {
		t.Fatalf("%s %s: header %v, want %v", got.Method, got.URL, got.Header, want.Header)
	}
	if got.ContentLength != want.ContentLength || (got.GetBody == nil) != (want.GetBody == nil) || (got.Body == nil) != (want.Body == nil) {
		t.Fatalf("%s %s: content length %d, GetBody %v, body %v; want %d, %v, %v", got.Method, got.URL,
			got.ContentLength, got.GetBody != nil, got.Body != nil, want.ContentLength, want.GetBody != nil, want.Body != nil)
	}
	if got.Body == nil {
		return
	}
	gb, _ := io.ReadAll(got.Body)
	wb, _ := io.ReadAll(want.Body)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("%s %s: body %q, want %q", got.Method, got.URL, gb, wb)
	}
	if got.GetBody != nil {
		r, _ := got.GetBody()
		again, _ := io.ReadAll(r)
		if !bytes.Equal(again, wb) {
			t.Fatalf("%s %s: GetBody gives %q, want %q", got.Method, got.URL, again, wb)
		}
	}
}

// A hand-built keys request and the generated builder it stands for.
type handBuilt struct {
	name   string
	params any // a nil pointer to the generated parameter or form struct
	gen    func(ck string, p any) (*http.Request, error)
	hand   func(k *httpKeysAPI, ck string, p any) (*http.Request, error)
}

var handBuiltRequests = []handBuilt{
	{"getRequest", (*generated.GetKeyParams)(nil),
		func(ck string, p any) (*http.Request, error) {
			if ck == "" {
				return generated.NewGetKeysRootRequest(placeholderServer, (*generated.GetKeysRootParams)(p.(*generated.GetKeyParams)))
			}
			return generated.NewGetKeyRequest(placeholderServer, ck, p.(*generated.GetKeyParams))
		},
		func(k *httpKeysAPI, ck string, p any) (*http.Request, error) {
			return k.getRequest(context.Background(), ck, p.(*generated.GetKeyParams))
		}},
	{"deleteRequest", (*generated.DeleteKeyParams)(nil),
		func(ck string, p any) (*http.Request, error) {
			if ck == "" {
				return rootOf(generated.NewDeleteKeyRequest(placeholderServer, "x", p.(*generated.DeleteKeyParams)))
			}
			return generated.NewDeleteKeyRequest(placeholderServer, ck, p.(*generated.DeleteKeyParams))
		},
		func(k *httpKeysAPI, ck string, p any) (*http.Request, error) {
			return k.deleteRequest(context.Background(), ck, p.(*generated.DeleteKeyParams))
		}},
	{"setRequest", (*generated.SetKeyForm)(nil),
		func(ck string, p any) (*http.Request, error) {
			if ck == "" {
				return rootOf(generated.NewSetKeyRequestWithFormdataBody(placeholderServer, "x", *p.(*generated.SetKeyForm)))
			}
			return generated.NewSetKeyRequestWithFormdataBody(placeholderServer, ck, *p.(*generated.SetKeyForm))
		},
		func(k *httpKeysAPI, ck string, p any) (*http.Request, error) {
			return k.setRequest(context.Background(), ck, p.(*generated.SetKeyForm))
		}},
}

// fieldSamples are values for a generated field of type t (a pointer, as
// every optional parameter is): each kind's edge values. A field of a
// kind it does not know fails the test, naming the field.
func fieldSamples(t *testing.T, owner string, f reflect.StructField) []reflect.Value {
	t.Helper()
	if f.Type.Kind() != reflect.Pointer {
		t.Fatalf("%s.%s is a %v, not an optional (pointer) parameter: teach this test and the builder how to send it", owner, f.Name, f.Type)
	}
	et := f.Type.Elem()
	var vals []any
	switch et.Kind() {
	case reflect.Bool:
		vals = []any{true, false}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		vals = []any{uint64(0), uint64(7), ^uint64(0) >> (64 - et.Bits())} // 0, 7, the largest
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		vals = []any{int64(0), int64(-7), int64(7)}
	case reflect.String:
		vals = []any{"", "v", "a b+c&d=e%f/g?h#ü\n"}
	case reflect.Slice:
		if et.Elem().Kind() == reflect.String {
			vals = []any{[]string{"a"}, []string{"a b", "c&d"}}
		}
	}
	if vals == nil {
		t.Fatalf("%s.%s has type %v, which this test has no values for: teach it, and the builder how to send it", owner, f.Name, f.Type)
	}
	out := make([]reflect.Value, len(vals))
	for i, v := range vals {
		p := reflect.New(et)
		switch et.Kind() {
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			p.Elem().SetUint(v.(uint64))
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			p.Elem().SetInt(v.(int64))
		default:
			p.Elem().Set(reflect.ValueOf(v).Convert(et))
		}
		out[i] = p
	}
	return out
}

// fieldWireName is the name a generated field has on the wire.
func fieldWireName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// show prints a sample value as Go would write it.
func show(v reflect.Value) string {
	if v.Elem().Kind() == reflect.String {
		return strconv.Quote(v.Elem().String())
	}
	return fmt.Sprint(v.Elem().Interface())
}

// wire is what a request puts on the wire besides its path: query and body.
func wire(t *testing.T, req *http.Request) string {
	t.Helper()
	s := req.Method + " ?" + req.URL.RawQuery
	if req.GetBody != nil {
		r, err := req.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		s += " " + string(b)
	}
	return s
}

// TestKeysRequestsSendEveryGeneratedField walks the generated parameter
// and form structs that the hand-built keys requests stand for, field by
// field: each field, set alone to each of its sample values, must reach
// the wire through the generated builder (else the test could not see it
// dropped) and the hand-built request must be the same. A field that
// openapi.yaml adds to one of these structs fails here until the builder
// sends it.
func TestKeysRequestsSendEveryGeneratedField(t *testing.T) {
	k := &httpKeysAPI{prefix: defaultV2KeysPrefix}
	for _, b := range handBuiltRequests {
		st := reflect.TypeOf(b.params).Elem()
		t.Run(b.name, func(t *testing.T) {
			if st.NumField() == 0 {
				t.Fatalf("generated.%s has no fields", st.Name())
			}
			all := reflect.New(st)
			for _, ck := range []string{"", "a/b"} {
				empty, err := b.gen(ck, reflect.New(st).Interface())
				if err != nil {
					t.Fatal(err)
				}
				for i := range st.NumField() {
					f := st.Field(i)
					for _, v := range fieldSamples(t, "generated."+st.Name(), f) {
						p := reflect.New(st)
						p.Elem().Field(i).Set(v)
						all.Elem().Field(i).Set(v)
						want, err := b.gen(ck, p.Interface())
						if err != nil {
							t.Fatalf("generated builder with %s = %v: %v", f.Name, show(v), err)
						}
						if wire(t, want) == wire(t, empty) {
							t.Fatalf("generated.%s.%s = %v does not reach the wire through the generated builder", st.Name(), f.Name, show(v))
						}
						got, err := b.hand(k, ck, p.Interface())
						if err != nil {
							t.Fatalf("%s with %s = %v: %v", b.name, f.Name, show(v), err)
						}
						if wire(t, got) != wire(t, want) {
							t.Fatalf("%s drops or changes generated.%s.%s = %v: sends %q, the generated builder %q",
								b.name, st.Name(), f.Name, show(v), wire(t, got), wire(t, want))
						}
						sameRequest(t, k, want, got, nil)
					}
				}
				// Every field at once (each at its last sample).
				want, err := b.gen(ck, all.Interface())
				if err != nil {
					t.Fatal(err)
				}
				got, err := b.hand(k, ck, all.Interface())
				sameRequest(t, k, want, got, err)
			}
		})
	}
}

// createInOrderFields says, for each field of generated.CreateInOrderForm,
// what CreateInOrder fills it from ("" for a field it leaves out on
// purpose, with the reason in the comment).
var createInOrderFields = map[string]string{
	"Value": "the value argument",
	"Ttl":   "CreateInOrderOptions.TTL",
	// The original client's CreateInOrderOptions offers only a TTL.
	"Dir":              "",
	"NoValueOnSuccess": "",
}

// CreateInOrder builds its request with the generated builder; what can
// drift is the form it fills. Every field of the generated form must be
// filled from an argument or option (checked on the wire) or left out on
// purpose in createInOrderFields.
func TestCreateInOrderFillsGeneratedForm(t *testing.T) {
	formType := reflect.TypeFor[generated.CreateInOrderForm]()
	for i := range formType.NumField() {
		f := formType.Field(i)
		if _, ok := createInOrderFields[f.Name]; !ok {
			t.Errorf("generated.CreateInOrderForm.%s (%s) is new: make CreateInOrder fill it (and say from what in createInOrderFields), or list it there as left out", f.Name, fieldWireName(f))
		}
	}
	tr := &cannedTransport{answers: []cannedAnswer{{status: 201, header: http.Header{"X-Etcd-Index": {"9"}},
		body: []byte(`{"action":"create","node":{"key":"/q/9","value":"v","modifiedIndex":9,"createdIndex":9}}`)}}}
	kapi := NewKeysAPI(cannedClient(t, tr, Config{}))
	if _, err := kapi.CreateInOrder(context.Background(), "/q", "a b&c", &CreateInOrderOptions{TTL: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(string(tr.bodies[0]))
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]string{}
	for i := range formType.NumField() {
		f := formType.Field(i)
		if name := fieldWireName(f); form.Has(name) {
			sent[f.Name] = form.Get(name)
		}
	}
	want := map[string]string{"Value": "a b&c", "Ttl": "5"}
	if !reflect.DeepEqual(sent, want) {
		t.Fatalf("CreateInOrder sent the form %q (fields %v), want fields %v", tr.bodies[0], sent, want)
	}
	var filled []string
	for name, from := range createInOrderFields {
		if from != "" {
			filled = append(filled, name)
		}
	}
	slices.Sort(filled)
	if !slices.Equal(filled, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("createInOrderFields says %v are filled; the test checks %v", filled, want)
	}
}

// TestKeysRequestsOfAnAttemptContext: a keys request built with a call's
// attempt context (a copy of the request that context keeps) is the
// request built with any other context, with the attempt context as its
// own; the kept request stays as it was.
func TestKeysRequestsOfAnAttemptContext(t *testing.T) {
	a := newAttemptCtx()
	kept := *a.bodyless
	k := &httpKeysAPI{prefix: defaultV2KeysPrefix}
	ttl := uint64(5)
	build := map[string]func(ctx context.Context) (*http.Request, error){
		"get": func(ctx context.Context) (*http.Request, error) {
			return k.getRequest(ctx, "a/b", &generated.GetKeyParams{Recursive: boolPtr(true)})
		},
		"delete": func(ctx context.Context) (*http.Request, error) {
			return k.deleteRequest(ctx, "a", &generated.DeleteKeyParams{Dir: boolPtr(true)})
		},
		"set": func(ctx context.Context) (*http.Request, error) {
			return k.setRequest(ctx, "a", &generated.SetKeyForm{Value: ptr("v w"), Ttl: &ttl})
		},
		"empty form": func(ctx context.Context) (*http.Request, error) {
			return k.setRequest(ctx, "a", &generated.SetKeyForm{})
		},
	}
	for name, b := range build {
		want, err := b(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got, err := b(a)
		if err != nil {
			t.Fatal(err)
		}
		if got.Context() != context.Context(a) {
			t.Fatalf("%s: the request's context is not the attempt context", name)
		}
		if got == a.bodyless || got.URL == a.bodyless.URL {
			t.Fatalf("%s: the request is the kept one, not a copy", name)
		}
		sameRequest(t, k, want, got, nil)
	}
	if !reflect.DeepEqual(kept, *a.bodyless) {
		t.Fatal("building requests changed the request the attempt context keeps")
	}
}
