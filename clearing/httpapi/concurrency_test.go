package httpapi_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// Tries racing for the last of a payer's credit: the limit holds, every
// written try moved its amount exactly once, every other was refused with
// code 4, and nothing stays held.
func TestConcurrentTriesKeepLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.house.SetLimits(ctx, "test", "a", -5000, 10000); err != nil { // a may owe 50.00
		t.Fatal(err)
	}
	const tries = 16 // of 7.00 each: at most 7 fit
	codes := make([]string, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, out := e.call("a", "PUT", "/transactions", e.tx("7", fmt.Sprintf("race-%d", i), true))
			codes[i] = code(out)
		}()
	}
	wg.Wait()
	written := 0
	for i, c := range codes {
		switch c {
		case "0":
			written++
		case "4":
		default:
			t.Errorf("try %d: got code %s, want 0 or 4", i, c)
		}
	}
	if written != 7 {
		t.Errorf("written: got %d, want 7 (codes %v)", written, codes)
	}
	e.wantBalances(map[string]int64{"a": -700 * int64(written), "b": 700 * int64(written)})
	if n := len(e.coms["b"].Relays()); n != written {
		t.Errorf("relays: got %d, want %d", n, written)
	}
	var posted int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM clearing_intertrades WHERE status = 'posted'`).Scan(&posted); err != nil || posted != written {
		t.Errorf("posted intertrades: got %d (%v), want %d", posted, err, written)
	}
	rep, err := e.house.Ledger().CheckIntegrity(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Errorf("ledger integrity: got %+v, %v", rep, err)
	}
}
