package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/app"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// New refuses a database without a circle; on one with a circle it builds
// a clearing house whose /metrics lists every background job from start,
// and Serve serves until its context ends.
func TestNewAndServe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := app.Config{Secret: "s"}
	if _, err := app.New(ctx, cfg, pool, logger); err == nil {
		t.Fatal("New without a circle: got no error")
	}
	h, err := clearing.New(pool, ledger.New(pool, ledger.Options{}), clearing.Options{Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.InitCircle(ctx, "test", "valley", "", "HOUR", 2); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, pool, logger)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(a.Jobs.Jobs(), " "), "clearing_recover clearing_prune_nonces clearing_prune_events clearing_schedule"; got != want {
		t.Fatalf("jobs: got %q, want %q", got, want)
	}
	if a.Circle.ID != "valley" || a.Handler() != nil {
		t.Fatalf("got circle %q, handler %v; want valley and no handler before Serve (no public URL)", a.Circle.ID, a.Handler())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`sxp_job_runs_total{name="clearing_recover",result="ok"} 0`,
		`sxp_job_runs_total{name="clearing_schedule",result="error"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics: no line %q", want)
		}
	}
	resp, err = http.Get("http://" + ln.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/readyz: got %d, want 200", resp.StatusCode)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Serve after its context ended: got %v, want nil", err)
	}
}
