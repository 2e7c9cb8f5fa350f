package federation

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	d := Delivery{RetryBase: 2 * time.Second, RetryMax: time.Minute, PauseAfter: 5, PauseFor: 30 * time.Minute}.withDefaults()
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		failures int
		min, max time.Duration
		pause    bool
	}{
		{1, time.Second, 2 * time.Second, false}, // the first retry within a few seconds
		{2, 2 * time.Second, 4 * time.Second, false},
		{3, 4 * time.Second, 8 * time.Second, false},
		{4, 8 * time.Second, 16 * time.Second, false},
		{5, 30 * time.Minute, 30 * time.Minute, true},
		{9, 30 * time.Second, time.Minute, false}, // capped at RetryMax
		{10, 30 * time.Minute, 30 * time.Minute, true},
		{201, 30 * time.Second, time.Minute, false},
	}
	for _, tt := range tests {
		for range 50 {
			got, pause := backoff(d, tt.failures, rng)
			if got < tt.min || got > tt.max || pause != tt.pause {
				t.Fatalf("failure %d: got %v pause %v, want %v..%v pause %v", tt.failures, got, pause, tt.min, tt.max, tt.pause)
			}
		}
	}
}

func TestNormalizeURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://Leaf.Example", "https://leaf.example"},
		{"https://leaf.example/", "https://leaf.example"},
		{" http://127.0.0.1:8081 ", "http://127.0.0.1:8081"},
		{"https://example.org/leaf/", "https://example.org/leaf"},
		{"ftp://leaf.example", ""},
		{"leaf.example", ""},
		{"https://leaf.example/?x=1", ""},
		{"https://user@leaf.example", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeURL(tt.in)
		if (err != nil) != (tt.want == "") || got != tt.want {
			t.Errorf("NormalizeURL(%q): got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCheckObject(t *testing.T) {
	price := "12.50"
	good := Object{Kind: "offer", Title: "Jam", Category: "Food", Price: &price, Currency: "LEAF",
		Author: Author{Username: "alice", DisplayName: "Alice"}, ExpiresAt: time.Unix(2e9, 0)}
	neg, bad := "-1", "12,50"
	lat := 91.0
	tests := []struct {
		name   string
		change func(*Object)
		ok     bool
	}{
		{"good", func(*Object) {}, true},
		{"kind", func(o *Object) { o.Kind = "gift" }, false},
		{"empty title", func(o *Object) { o.Title = "" }, false},
		{"control character", func(o *Object) { o.Title = "Jam\x00" }, false},
		{"newline in the description", func(o *Object) { o.Description = "a\nb" }, true},
		{"negative price", func(o *Object) { o.Price = &neg }, false},
		{"malformed price", func(o *Object) { o.Price = &bad }, false},
		{"unvalued", func(o *Object) { o.Price = nil }, true},
		{"lat without lon", func(o *Object) { o.Lat = &lat }, false},
		{"username with @", func(o *Object) { o.Author.Username = "a@b" }, false},
		{"no expiry", func(o *Object) { o.ExpiresAt = time.Time{} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.change(&o)
			if err := checkObject(o); (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
