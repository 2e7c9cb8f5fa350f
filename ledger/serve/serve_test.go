package serve

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunStopsInOrder: a request in flight when ctx ends is answered, the
// background work sees its context end, and Run returns only after both.
func TestRunStopsInOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	})}
	var backgroundEnded atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() {
		ran <- Run(ctx, srv, ln, 10*time.Second, func(ctx context.Context) {
			<-ctx.Done()
			backgroundEnded.Store(true)
		})
	}()
	answer := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			answer <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answer <- string(b)
	}()
	<-entered
	cancel()
	close(release)
	if got := <-answer; got != "done" {
		t.Fatalf("request in flight: got %q, want done", got)
	}
	if err := <-ran; err != nil {
		t.Fatalf("Run: got %v, want nil", err)
	}
	if !backgroundEnded.Load() {
		t.Fatal("Run returned before the background work ended")
	}
}

// TestRunReturnsServeError: a server that cannot serve ends Run with its
// error, after the background work has stopped.
func TestRunReturnsServeError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // Serve fails at once
	var backgroundEnded atomic.Bool
	err = Run(context.Background(), &http.Server{}, ln, time.Second, func(ctx context.Context) {
		<-ctx.Done()
		backgroundEnded.Store(true)
	})
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("got %v, want the listener's error", err)
	}
	if !backgroundEnded.Load() {
		t.Fatal("Run returned before the background work ended")
	}
}
