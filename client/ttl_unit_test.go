package client

import (
	"context"
	"errors"
	"math"
	"net/url"
	"testing"
	"time"
)

// TestTTLOnTheWire checks the TTL rule wherever a TTL is sent (Set, Update,
// a directory set, a refresh, CreateInOrder): TTL <= 0 sends no ttl (the
// key is permanent, as the package doc says), a positive TTL that is not
// whole seconds is rounded up to the next whole second (never ttl=0, which
// etcd takes as "expire now"), whole seconds go as they are.
func TestTTLOnTheWire(t *testing.T) {
	ttls := []struct {
		ttl  time.Duration
		want string // the ttl form field; "" = absent
	}{
		{-time.Second, ""},
		{-1, ""},
		{0, ""},
		{1, "1"},
		{500 * time.Millisecond, "1"},
		{999 * time.Millisecond, "1"},
		{time.Second, "1"},
		{time.Second + 1, "2"},
		{1500 * time.Millisecond, "2"},
		{2 * time.Second, "2"},
		{90 * time.Minute, "5400"},
		{math.MaxInt64, "9223372037"}, // rounded up without overflowing
	}
	type call func(ctx context.Context, k KeysAPI, ttl time.Duration) error
	calls := []struct {
		name string
		call call
	}{
		{"Set", func(ctx context.Context, k KeysAPI, ttl time.Duration) error {
			_, err := k.Set(ctx, "/k", "v", &SetOptions{TTL: ttl})
			return err
		}},
		{"Set PrevExist (update)", func(ctx context.Context, k KeysAPI, ttl time.Duration) error {
			_, err := k.Set(ctx, "/k", "v", &SetOptions{TTL: ttl, PrevExist: PrevExist})
			return err
		}},
		{"Set PrevNoExist (create)", func(ctx context.Context, k KeysAPI, ttl time.Duration) error {
			_, err := k.Set(ctx, "/k", "v", &SetOptions{TTL: ttl, PrevExist: PrevNoExist})
			return err
		}},
		{"Set Dir", func(ctx context.Context, k KeysAPI, ttl time.Duration) error {
			_, err := k.Set(ctx, "/d", "", &SetOptions{TTL: ttl, Dir: true})
			return err
		}},
		{"Set PrevIndex (compare-and-swap)", func(ctx context.Context, k KeysAPI, ttl time.Duration) error {
			_, err := k.Set(ctx, "/k", "v", &SetOptions{TTL: ttl, PrevIndex: 3})
			return err
		}},
		{"CreateInOrder", func(ctx context.Context, k KeysAPI, ttl time.Duration) error {
			_, err := k.CreateInOrder(ctx, "/q", "v", &CreateInOrderOptions{TTL: ttl})
			return err
		}},
		{"Refresh", func(ctx context.Context, k KeysAPI, ttl time.Duration) error {
			_, err := k.Set(ctx, "/k", "", &SetOptions{TTL: ttl, Refresh: true})
			return err
		}},
	}
	for _, c := range calls {
		for _, tc := range ttls {
			t.Run(c.name+"/"+tc.ttl.String(), func(t *testing.T) {
				tr := &cannedTransport{answers: []cannedAnswer{{status: 200, body: []byte(`{"action":"set","node":{"key":"/k","value":"v","modifiedIndex":5,"createdIndex":5}}`)}}}
				k := NewKeysAPI(cannedClient(t, tr, Config{}))
				err := c.call(fuzzCtx(t), k, tc.ttl)
				if c.name == "Refresh" && tc.ttl <= 0 {
					// A refresh only sets a TTL: it needs a positive one.
					var ia *InvalidArgumentError
					if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &ia) || ia.Field != "SetOptions.TTL" {
						t.Fatalf("refresh with TTL %v: err %v, want an *InvalidArgumentError for SetOptions.TTL", tc.ttl, err)
					}
					if len(tr.reqs) != 0 {
						t.Fatalf("a refused refresh was sent: %v", tr.reqs[0].URL)
					}
					return
				}
				if err != nil {
					t.Fatalf("TTL %v refused: %v", tc.ttl, err)
				}
				if len(tr.reqs) != 1 {
					t.Fatalf("%d requests sent, want 1", len(tr.reqs))
				}
				form, err := url.ParseQuery(string(tr.bodies[0]))
				if err != nil {
					t.Fatal(err)
				}
				got, sent := form["ttl"]
				switch {
				case tc.want == "" && sent:
					t.Errorf("TTL %v sent ttl=%q, want no ttl (the key stays permanent)", tc.ttl, got)
				case tc.want != "" && (len(got) != 1 || got[0] != tc.want):
					t.Errorf("TTL %v sent ttl=%q, want %q", tc.ttl, got, tc.want)
				}
			})
		}
	}
}

// TestTTLSeconds is the rounding on its own, at the edges.
func TestTTLSeconds(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		want uint64 // 0 = nil (no TTL)
	}{
		{math.MinInt64, 0}, {-time.Nanosecond, 0}, {0, 0},
		{time.Nanosecond, 1}, {time.Second - 1, 1}, {time.Second, 1}, {time.Second + 1, 2},
		{59*time.Second + 500*time.Millisecond, 60}, {math.MaxInt64, 9223372037},
	} {
		got := ttlSeconds(tc.ttl)
		switch {
		case tc.want == 0 && got != nil:
			t.Errorf("ttlSeconds(%v) = %d, want none", tc.ttl, *got)
		case tc.want != 0 && (got == nil || *got != tc.want):
			t.Errorf("ttlSeconds(%v) = %v, want %d", tc.ttl, got, tc.want)
		}
	}
}
