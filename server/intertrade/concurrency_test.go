package intertrade

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp"
)

// The same relay arriving several times at once (each with its own
// signature and nonce) credits the payee once; every copy gets the answer.
func TestReceiveConcurrentCopies(t *testing.T) {
	t.Parallel()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	const copies = 8
	type result struct {
		status int
		answer cxp.TransactionResponse
	}
	requests := make([]*http.Request, copies)
	bodies := make([][]byte, copies)
	for i := range requests {
		requests[i], bodies[i] = relayRequest(t, testKey, goodRelay("t-race"))
	}
	results := make([]result, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, a := receiveSigned(context.Background(), e.svc, requests[i], bodies[i])
			results[i] = result{st, a}
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.status != http.StatusOK || r.answer.Code != cxp.OK || r.answer.ID != results[0].answer.ID {
			t.Fatalf("copy %d: got %d %+v, want 200 code 0 id %s", i, r.status, r.answer, results[0].answer.ID)
		}
	}
	if got := e.account(t, e.bob.Account).Balance; got != 2500 {
		t.Fatalf("bob: got %d, want 2500 (credited once)", got)
	}
	if n := e.count(t, `direction = 'in'`); n != 1 {
		t.Fatalf("rows: got %d, want 1", n)
	}
}

// The same payment sent several times at once with one idempotency key is
// paid once; every request gets that payment.
func TestPayConcurrentSameKey(t *testing.T) {
	t.Parallel()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	const copies = 6
	ids := make([]int64, copies)
	errs := make([]error, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := e.svc.Pay(context.Background(), PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice",
				To: "bob@acorn", Amount: 300, IdempotencyKey: "once"})
			ids[i], errs[i] = p.ID, err
		}()
	}
	wg.Wait()
	for i := range copies {
		if errs[i] != nil || ids[i] == 0 || ids[i] != ids[0] {
			t.Fatalf("copy %d: got id %d err %v, want id %d", i, ids[i], errs[i], ids[0])
		}
	}
	if _, writes, _ := circle.Snapshot(); writes != 1 {
		t.Fatalf("circle writes: got %d, want 1", writes)
	}
	if got := e.account(t, e.alice.Account); got.Balance != -300 || got.PendingDebits != 0 {
		t.Fatalf("alice: got %d (held %d), want -300", got.Balance, got.PendingDebits)
	}
	if n := e.count(t, `direction = 'out'`); n != 1 {
		t.Fatalf("rows: got %d, want 1", n)
	}
}
