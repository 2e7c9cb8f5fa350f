package chaostest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestProxyModes: pass forwards; drop_answer lets the request arrive and
// the caller never hears; reset refuses; delay holds the answer past the
// caller's timeout while the request still arrives.
func TestProxyModes(t *testing.T) {
	var arrived atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		io.WriteString(w, "paid")
	}))
	defer srv.Close()
	p, err := StartProxy("test", "127.0.0.1:0", strings.TrimPrefix(srv.URL, "http://"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	call := func() (string, error) {
		resp, err := hc.Get("http://" + p.Listen + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	tests := []struct {
		mode        Mode
		wantBody    string // "" when the call must fail
		wantArrived int64
	}{
		{Pass, "paid", 1},
		{DropAnswer, "", 1},
		{Reset, "", 0},
		{Delay, "", 1},
		{Pass, "paid", 1},
	}
	for _, tt := range tests {
		arrived.Store(0)
		p.SetMode(tt.mode)
		body, err := call()
		if tt.wantBody != "" && (err != nil || body != tt.wantBody) {
			t.Fatalf("%s: got %q %v, want %q", tt.mode, body, err, tt.wantBody)
		}
		if tt.wantBody == "" && err == nil {
			t.Fatalf("%s: got %q, want the call to fail", tt.mode, body)
		}
		if got := arrived.Load(); got != tt.wantArrived {
			t.Fatalf("%s: %d requests arrived, want %d", tt.mode, got, tt.wantArrived)
		}
	}
}

// TestSchedule: a seed gives one schedule; a long enough one kills every
// server, stops every cluster and puts every proxy in every network mode.
func TestSchedule(t *testing.T) {
	servers, clusters := []string{"clearing", "leaf", "acorn", "birch"}, []string{"pg"}
	a := Schedule(7, 3*time.Minute, servers, clusters)
	if b := Schedule(7, 3*time.Minute, servers, clusters); !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two schedules")
	}
	if c := Schedule(8, 3*time.Minute, servers, clusters); reflect.DeepEqual(a, c) {
		t.Fatal("two seeds gave the same schedule")
	}
	seen := map[string]bool{}
	var end time.Duration
	for _, f := range a {
		if f.At < end {
			t.Fatalf("fault at %s overlaps the previous one, healed at %s", f.At, end)
		}
		end = f.At + f.For
		seen[f.Kind+" "+f.Target+" "+f.Mode.String()] = true
	}
	if end > 3*time.Minute {
		t.Fatalf("the schedule ends at %s, after the run", end)
	}
	for _, s := range servers {
		for _, want := range []string{"kill9 " + s + " pass", "net " + s + " delay", "net " + s + " drop_answer", "net " + s + " reset"} {
			if !seen[want] {
				t.Errorf("no %q in the schedule", want)
			}
		}
	}
	if !seen["pgstop pg pass"] {
		t.Error("no pgstop of the cluster in the schedule")
	}
}
