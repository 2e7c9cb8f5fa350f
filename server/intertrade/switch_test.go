package intertrade

import (
	"context"
	"sync"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// TestSwitch: alone until a Service is put in, then that Service, also
// while other goroutines use it (run with -race).
func TestSwitch(t *testing.T) {
	t.Parallel()
	var w Switch
	ctx := context.Background()
	if _, err := w.Overview(ctx); CodeOf(err) != ErrNotInCircle {
		t.Fatalf("alone: got %v, want ErrNotInCircle", err)
	}
	if _, e := w.RelayVerifier(); e == nil || e.Code != cxp.CodeNotPermitted {
		t.Fatalf("alone, a relay: got %v, want code 16", e)
	}
	svc := &Service{cfg: Config{CircleID: "valley"}, relays: &httpsig.Verifier{}}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_ = w.Service()
				_, _ = w.RelayVerifier()
			}
		}()
	}
	w.Use(svc)
	wg.Wait()
	if w.Service() != svc {
		t.Fatal("the Service put in is not in force")
	}
	if _, e := w.RelayVerifier(); e != nil {
		t.Errorf("in a circle, the relay verifier: got %v", e)
	}
	names := map[string]bool{}
	for _, j := range w.Jobs(0) {
		names[j.Name] = true
		if n, err := (&Switch{}).Jobs(0)[0].Run(ctx); n != 0 || err != nil {
			t.Errorf("a job while alone: got %d %v, want nothing done", n, err)
		}
	}
	for _, want := range []string{"intertrade_settle", "intertrade_reconcile", "intertrade_prune_nonces"} {
		if !names[want] {
			t.Errorf("no job %s in %v", want, names)
		}
	}
}
