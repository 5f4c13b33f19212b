package memcache

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
)

func TestOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		servers []string // after defaults; nil: New fails
	}{
		{"host:port", Options{Servers: []string{"10.0.0.1:11211", "mc.example.com:11212"}}, []string{"10.0.0.1:11211", "mc.example.com:11212"}},
		{"default port and spaces", Options{Servers: []string{" mc1.example.com ", "::1"}}, []string{"mc1.example.com:11211", "[::1]:11211"}},
		{"no servers", Options{}, nil},
		{"listed twice", Options{Servers: []string{"a:1", "a:1"}}, nil},
		{"empty host", Options{Servers: []string{":11211"}}, nil},
		{"password without user", Options{Servers: []string{"a:1"}, Password: "p"}, nil},
		{"item limit too small", Options{Servers: []string{"a:1"}, ItemSizeLimit: 100}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts)
			if tt.servers == nil {
				if err == nil {
					t.Fatalf("New(%v) succeeded, want an error", tt.opts)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if diff := cmp.Diff(tt.servers, c.addrs); diff != "" {
				t.Errorf("servers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOptionsHidePassword(t *testing.T) {
	opts := Options{Servers: []string{"mc:11211"}, Username: "alice", Password: "hunter2-secret"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(verb, opts); strings.Contains(s, opts.Password) || !strings.Contains(s, "alice") {
			t.Errorf("Sprintf(%q) = %q: shows the password or hides the user", verb, s)
		}
	}
}

func TestExpiration(t *testing.T) {
	clock := cachetest.NewClock()
	c := newClient(t, Options{Servers: []string{"127.0.0.1:1"}, Now: clock.Now})
	now := clock.Now().Unix()
	month := int64(cache.MaxTTL / time.Second)
	tests := []struct {
		ttl  time.Duration
		want int64
	}{
		{0, 0},
		{time.Nanosecond, 1},
		{time.Second, 1},
		{1500 * time.Millisecond, 2},
		{time.Hour, 3600},
		{cache.MaxTTL, month},
		{cache.MaxTTL + time.Nanosecond, now + month + 1},
		{cache.MaxTTL + 24*time.Hour, now + month + 86400},
		{math.MaxInt64, math.MaxInt32},
	}
	for _, tt := range tests {
		got, err := c.expiration(tt.ttl)
		if err != nil || int64(got) != tt.want {
			t.Errorf("expiration(%v) = %d, %v; want %d", tt.ttl, got, err, tt.want)
		}
	}
	if _, err := c.expiration(-time.Nanosecond); !errors.Is(err, cache.ErrInvalid) {
		t.Errorf("expiration(-1ns): %v, want ErrInvalid", err)
	}
}
