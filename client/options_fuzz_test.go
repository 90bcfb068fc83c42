package client

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzSetOptions checks option validation and how options go on the wire,
// through KeysAPI.Set, Delete and CreateInOrder over a recording transport.
// Invariants: options are refused before anything is sent exactly when the
// documented rules say so (unknown PrevExist; PrevValue with Dir; Refresh
// with a value, without a positive TTL or with Dir; a value or PrevValue
// that is not valid UTF-8, which etcd could not give back), with an
// *InvalidArgumentError naming the option (errors.Is ErrInvalidArgument);
// otherwise exactly one request goes out whose form (or query) carries the
// value, prevValue, prevIndex (0 = absent), prevExist, ttl, dir, refresh and
// noValueOnSuccess byte for byte, and nothing else, where ttl is absent for a
// TTL <= 0 and otherwise the TTL rounded up to whole seconds (never 0); and
// setForm puts the write in the one-shot retry class exactly when it is a
// create, a compare-and-swap or a directory creation.
func FuzzSetOptions(f *testing.F) {
	f.Add(uint8(0), "v", "", uint64(0), "", int64(0), uint8(0))
	f.Add(uint8(0), "a&b=c+d%20e\n", "old value", uint64(7), "true", int64(5*time.Second), uint8(0))
	f.Add(uint8(0), "", "", uint64(0), "", int64(time.Second), uint8(2))
	f.Add(uint8(0), "v", "", uint64(0), "false", int64(1500*time.Millisecond), uint8(0))
	f.Add(uint8(0), "", "x", uint64(0), "", int64(0), uint8(1))
	f.Add(uint8(0), "v", "", uint64(0), "maybe", int64(0), uint8(4))
	f.Add(uint8(1), "", "v", uint64(3), "", int64(0), uint8(3))
	f.Add(uint8(2), "✓", "", uint64(0), "", int64(-time.Second), uint8(0))
	f.Add(uint8(2), "x", "", uint64(0), "", int64(60*time.Second), uint8(0))
	f.Add(uint8(0), "a\xffb", "", uint64(0), "", int64(0), uint8(0))
	f.Add(uint8(0), "v", "\xc3(", uint64(0), "", int64(0), uint8(0))
	f.Add(uint8(1), "", "\xed\xa0\x80", uint64(0), "", int64(0), uint8(0))
	f.Add(uint8(2), "\x80", "", uint64(0), "", int64(0), uint8(0))
	f.Fuzz(func(t *testing.T, op uint8, value, prevValue string, prevIndex uint64, prevExist string, ttl int64, flags uint8) {
		tr := &cannedTransport{answers: []cannedAnswer{{status: 200, body: []byte(`{"action":"set","node":{"key":"/k","value":"v","modifiedIndex":5,"createdIndex":5}}`)}}}
		c := cannedClient(t, tr, Config{})
		kapi := NewKeysAPI(c)
		ctx := fuzzCtx(t)
		d := time.Duration(ttl)
		// The ttl etcd gets: none for d <= 0, else d in seconds rounded up.
		wantTTL := ""
		if d > 0 {
			secs := d / time.Second
			if d%time.Second != 0 {
				secs++
			}
			wantTTL = strconv.FormatInt(int64(secs), 10)
		}
		var err error
		var wantErr, field string
		want := url.Values{}
		switch op % 3 {
		case 0:
			o := SetOptions{PrevValue: prevValue, PrevIndex: prevIndex, PrevExist: PrevExistType(prevExist), TTL: d,
				Dir: flags&1 != 0, Refresh: flags&2 != 0, NoValueOnSuccess: flags&4 != 0}
			switch {
			case o.PrevExist != PrevIgnore && o.PrevExist != PrevExist && o.PrevExist != PrevNoExist:
				wantErr = "SetOptions.PrevExist"
			case o.Dir && o.PrevValue != "":
				wantErr = "SetOptions.PrevValue"
			case o.Refresh && value != "":
				wantErr = "SetOptions.Refresh"
			case o.Refresh && o.TTL <= 0:
				wantErr = "SetOptions.TTL"
			case o.Refresh && o.Dir:
				wantErr = "SetOptions.Refresh"
			case !o.Dir && !o.Refresh && !utf8.ValidString(value):
				wantErr = "invalid value: not valid UTF-8"
			case !utf8.ValidString(o.PrevValue):
				wantErr = "invalid SetOptions.PrevValue: not valid UTF-8"
			}
			_, err = kapi.Set(ctx, "/k", value, &o)
			if wantErr == "" {
				oo := o
				_, class, ferr := setForm(value, &oo)
				if ferr != nil {
					t.Fatalf("Set accepted %+v, setForm refused it: %v", o, ferr)
				}
				oneShot := o.PrevExist == PrevNoExist || o.PrevValue != "" || o.PrevIndex != 0 || (o.Dir && o.PrevExist != PrevExist)
				if (class == classOneShot) != oneShot {
					t.Fatalf("options %+v: retry class %d, one-shot should be %v", o, class, oneShot)
				}
			}
			if o.Dir {
				want.Set("dir", "true")
			} else if !o.Refresh {
				want.Set("value", value)
			}
			if o.PrevValue != "" {
				want.Set("prevValue", o.PrevValue)
			}
			if o.PrevIndex != 0 {
				want.Set("prevIndex", strconv.FormatUint(o.PrevIndex, 10))
			}
			if o.PrevExist != PrevIgnore {
				want.Set("prevExist", strconv.FormatBool(o.PrevExist == PrevExist))
			}
			if wantTTL != "" {
				want.Set("ttl", wantTTL)
			}
			if o.Refresh {
				want.Set("refresh", "true")
			}
			if o.NoValueOnSuccess {
				want.Set("noValueOnSuccess", "true")
			}
			field = "form"
		case 1:
			o := DeleteOptions{PrevValue: prevValue, PrevIndex: prevIndex, Recursive: flags&1 != 0, Dir: flags&2 != 0}
			_, err = kapi.Delete(ctx, "/k", &o)
			if !utf8.ValidString(o.PrevValue) {
				wantErr = "invalid DeleteOptions.PrevValue: not valid UTF-8"
			}
			if o.PrevValue != "" {
				want.Set("prevValue", o.PrevValue)
			}
			if o.PrevIndex != 0 {
				want.Set("prevIndex", strconv.FormatUint(o.PrevIndex, 10))
			}
			if o.Recursive {
				want.Set("recursive", "true")
			}
			if o.Dir {
				want.Set("dir", "true")
			}
			field = "query"
		case 2:
			_, err = kapi.CreateInOrder(ctx, "/q", value, &CreateInOrderOptions{TTL: d})
			if !utf8.ValidString(value) {
				wantErr = "invalid value: not valid UTF-8"
			}
			want.Set("value", value)
			if wantTTL != "" {
				want.Set("ttl", wantTTL)
			}
			field = "form"
		}
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) || !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("op %d: error %v, want an invalid argument naming %s", op%3, err, wantErr)
			}
			if len(tr.reqs) != 0 {
				t.Fatalf("refused options were sent: %v", tr.reqs[0].URL)
			}
			return
		}
		if err != nil {
			t.Fatalf("op %d: valid options refused: %v", op%3, err)
		}
		if len(tr.reqs) != 1 {
			t.Fatalf("%d requests sent", len(tr.reqs))
		}
		var got url.Values
		var perr error
		if field == "form" {
			if ct := tr.reqs[0].Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Fatalf("form sent as %q", ct)
			}
			got, perr = url.ParseQuery(string(tr.bodies[0]))
			if q := tr.reqs[0].URL.RawQuery; q != "" {
				t.Fatalf("a write also sent the query %q (the server would merge it)", q)
			}
		} else {
			got, perr = url.ParseQuery(tr.reqs[0].URL.RawQuery)
			if len(tr.bodies[0]) != 0 {
				t.Fatalf("delete sent a body %q", tr.bodies[0])
			}
		}
		if perr != nil {
			t.Fatalf("the %s does not parse: %v", field, perr)
		}
		if got.Encode() != want.Encode() {
			t.Fatalf("op %d sent the %s\n%q\nwant\n%q", op%3, field, got.Encode(), want.Encode())
		}
	})
}
