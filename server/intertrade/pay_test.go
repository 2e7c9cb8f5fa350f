package intertrade

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/cxptest"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/ledger"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func asError(err error, target **Error) bool { return errors.As(err, target) }

func TestPayCompletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	circle.Set(func(f *cxptest.Circle) { f.Ticks = "2.5" }) // the rate in force, not our declared 1
	e := newEnv(t, circle.URL, nil)
	if got := e.svc.Ticks(); got != "2.5" {
		t.Fatalf("rate in force: got %s, want 2.5 (from the handshake)", got)
	}

	req := PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice", To: "bob@acorn", Amount: 1000, Description: "apples", IdempotencyKey: "k1"}
	p, err := e.svc.Pay(ctx, req)
	if err != nil {
		t.Fatalf("Pay: %v", err)
	}
	if p.State != StateCompleted || p.Quantity != "25.00" || p.Amount != 1000 || p.Ticks != "2.5" || p.CXP != cxp.OK || p.To != "bob@acorn" {
		t.Fatalf("payment: got %+v, want completed, 25.00 base for 1000 minor at 2.5", p)
	}
	alice, ie := e.account(t, e.alice.Account), e.importExport(t)
	if alice.Balance != -1000 || alice.PendingDebits != 0 || ie.Balance != 1000 || ie.PendingCredits != 0 {
		t.Fatalf("balances: alice %d (held %d), import/export %d (held %d); want -1000, 0, 1000, 0",
			alice.Balance, alice.PendingDebits, ie.Balance, ie.PendingCredits)
	}
	balance, writes, tries := circle.Snapshot()
	if balance != -2500 || writes != 1 || tries != 1 { // one try, really=true (issue 15: no really=false first)
		t.Fatalf("circle: balance %d, writes %d, tries %d; want -2500, 1, 1", balance, writes, tries)
	}
	var try cxp.TransactionRequest
	var prep cxp.PrepareRequest
	circle.Set(func(c *cxptest.Circle) { try, prep = c.Tries[0], c.Prepares[len(c.Prepares)-1] })
	want := cxp.TransactionRequest{Payer: "alice", PayerURL: testPublic, Payee: "bob", PayeeURL: testPeerURI,
		DestURL: testPeerURI, SrcURL: testPublic, Quantity: "25.00", Description: "apples", Really: true, TempID: p.TempID}
	if try != want {
		t.Fatalf("try sent: got %+v, want %+v", try, want)
	}
	if prep.Balance != "0.00" || prep.Volume != "0.00" || prep.Integrity == nil || !*prep.Integrity {
		t.Fatalf("prepare sent: got %+v, want balance 0.00, volume 0.00, integrity true", prep)
	}

	// The same idempotency key: the same payment, nothing sent or moved again.
	again, err := e.svc.Pay(ctx, req)
	if err != nil || again.ID != p.ID || again.State != StateCompleted {
		t.Fatalf("repeat: got %+v, %v; want payment %d completed", again, err, p.ID)
	}
	if _, writes2, tries2 := circle.Snapshot(); writes2 != 1 || tries2 != 1 {
		t.Fatalf("repeat reached the circle: writes %d, tries %d; want 1, 1", writes2, tries2)
	}
	if got := e.account(t, e.alice.Account).Balance; got != -1000 {
		t.Fatalf("alice after repeat: got %d, want -1000", got)
	}
	// The same key for another payment is a conflict.
	other := req
	other.Amount = 2000
	if _, err := e.svc.Pay(ctx, other); CodeOf(err) != ErrConflict {
		t.Fatalf("key reuse: got %v, want %s", err, ErrConflict)
	}

	// Integrity: import/export 10.00 LEAF = 25.00 base, circle's virtual customer -25.00.
	if _, err := e.svc.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := e.svc.CheckIntegrity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.AccountBalance != 1000 || rep.LocalSum != 1000 || rep.BaseSum != "25.00" || rep.CircleBalance != "-25.00" {
		t.Fatalf("integrity: got %+v, want ok, 1000, 1000, 25.00, -25.00", rep)
	}
	// A circle that disagrees is reported, not fixed.
	circle.Set(func(f *cxptest.Circle) { f.Balance = -2400 })
	rep, err = e.svc.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || len(rep.Problems) != 1 {
		t.Fatalf("integrity after a mismatch: got %+v, want one problem", rep)
	}
	last, ok, err := e.svc.LastIntegrity(ctx)
	if err != nil || !ok || last.ID != rep.ID || last.OK {
		t.Fatalf("last integrity: got %+v %v %v, want check %d not ok", last, ok, err, rep.ID)
	}
	if got := e.importExport(t).Balance; got != 1000 {
		t.Fatalf("import/export after mismatch: got %d, want 1000 (never auto-fixed)", got)
	}
}

func TestPayRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(f *cxptest.Circle)
		deadCircle bool
		amount     int64
		wantCode   cxp.Code
		wantReason string
		wantTries  int
	}{
		{name: "prepare: over the circle's spend limit", setup: func(f *cxptest.Circle) { f.SpendLimit = "5.00" },
			amount: 1000, wantCode: cxp.CodeLimits, wantReason: "the circle's limit for our community would be exceeded", wantTries: 0},
		{name: "write: circle's limits", setup: func(f *cxptest.Circle) { f.RefuseWrite = cxp.CodeLimits },
			amount: 1000, wantCode: cxp.CodeLimits, wantReason: "the circle's limit for our community would be exceeded", wantTries: 1},
		{name: "write: payee's limits", setup: func(f *cxptest.Circle) { f.RefuseWrite = cxp.CodeRemoteLimits },
			amount: 1000, wantCode: cxp.CodeRemoteLimits, wantReason: "the other community can't accept that much for this member", wantTries: 1},
		{name: "write: payee's server down", setup: func(f *cxptest.Circle) { f.RefuseWrite = cxp.CodeServerNotFound },
			amount: 1000, wantCode: cxp.CodeServerNotFound, wantReason: "the other community's server could not be reached", wantTries: 1},
		{name: "payer's own credit", amount: 20000, wantCode: cxp.OK, wantReason: reasonNoCredit, wantTries: 0},
		{name: "circle unreachable", deadCircle: true, amount: 1000, wantCode: cxp.CodeServerNotFound, wantReason: reasonCircleUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			circle := newFakeCircle(t)
			e := newEnv(t, circle.URL, nil)
			if _, err := e.svc.Communities(ctx); err != nil { // cache the list
				t.Fatal(err)
			}
			if tt.setup != nil {
				circle.Set(tt.setup)
			}
			if tt.deadCircle {
				e.svc.client.BaseURL = deadURL(t)
			}
			p, err := e.svc.Pay(ctx, PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice", To: "bob@acorn", Amount: tt.amount, IdempotencyKey: "k"})
			var ie *Error
			if !asError(err, &ie) || ie.Code != ErrRefused || ie.CXP != tt.wantCode || ie.Message != tt.wantReason {
				t.Fatalf("error: got %v, want refused with code %d and %q", err, tt.wantCode, tt.wantReason)
			}
			if p.State != StateFailed || p.Reason != tt.wantReason || p.CXP != tt.wantCode {
				t.Fatalf("payment: got %+v, want failed with code %d", p, tt.wantCode)
			}
			alice, acc := e.account(t, e.alice.Account), e.importExport(t)
			if alice.Balance != 0 || alice.PendingDebits != 0 || acc.Balance != 0 || acc.PendingCredits != 0 {
				t.Fatalf("balances: alice %d held %d, import/export %d held %d; want all 0", alice.Balance, alice.PendingDebits, acc.Balance, acc.PendingCredits)
			}
			if n := e.count(t, `state = 'failed' AND direction = 'out'`); n != 1 {
				t.Fatalf("failed rows: got %d, want 1", n)
			}
			if balance, writes, tries := circle.Snapshot(); balance != 0 || writes != 0 || tries != tt.wantTries {
				t.Fatalf("circle: balance %d writes %d tries %d; want 0, 0, %d", balance, writes, tries, tt.wantTries)
			}
			// The same key gives the same refusal without calling the circle again.
			again, err := e.svc.Pay(ctx, PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice", To: "bob@acorn", Amount: tt.amount, IdempotencyKey: "k"})
			if again.ID != p.ID || CodeOf(err) != ErrRefused {
				t.Fatalf("repeat: got %+v %v, want payment %d refused", again, err, p.ID)
			}
			if _, _, tries := circle.Snapshot(); tries != tt.wantTries {
				t.Fatalf("repeat reached the circle: tries %d, want %d", tries, tt.wantTries)
			}
		})
	}
}

func TestPayBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	tests := []struct {
		name      string
		to        string
		amount    int64
		desc      string
		key       string
		wantCode  ErrorCode
		wantField string
	}{
		{"no community", "bob", 100, "", "", ErrInvalid, "to"},
		{"our own community", "bob@leaf", 100, "", "", ErrInvalid, "to"},
		{"two @", "bob@acorn@x", 100, "", "", ErrInvalid, "to"},
		{"space", "bo b@acorn", 100, "", "", ErrInvalid, "to"},
		{"zero amount", "bob@acorn", 0, "", "", ErrInvalid, "amount"},
		{"negative amount", "bob@acorn", -5, "", "", ErrInvalid, "amount"},
		{"control character", "bob@acorn", 100, "a\x00b", "", ErrInvalid, "description"},
		{"unknown community", "bob@nowhere", 100, "", "", ErrNotFound, "to"},
		{"blocked community", "bob@pine", 100, "", "", ErrRefused, "to"},
		// Issue 10: keys follow the rules of local payments' keys.
		{"NUL in key", "bob@acorn", 100, "", "k\x00", ErrInvalid, "idempotency_key"},
		{"control character in key", "bob@acorn", 100, "", "k\n1", ErrInvalid, "idempotency_key"},
		{"space in key", "bob@acorn", 100, "", "k 1", ErrInvalid, "idempotency_key"},
		{"key too long", "bob@acorn", 100, "", strings.Repeat("k", 101), ErrInvalid, "idempotency_key"},
	}
	for _, tt := range tests {
		_, err := e.svc.Pay(ctx, PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice", To: tt.to, Amount: tt.amount, Description: tt.desc, IdempotencyKey: tt.key})
		var ie *Error
		if !asError(err, &ie) || ie.Code != tt.wantCode || ie.Field != tt.wantField {
			t.Errorf("%s: got %v, want %s on %s", tt.name, err, tt.wantCode, tt.wantField)
		}
	}
	if n := e.count(t, `true`); n != 0 {
		t.Fatalf("rows after bad input: got %d, want 0", n)
	}
	if _, _, tries := circle.Snapshot(); tries != 0 {
		t.Fatalf("bad input reached the circle: %d tries", tries)
	}
	if got := e.account(t, e.alice.Account); got.Balance != 0 || got.PendingDebits != 0 {
		t.Fatalf("alice: got %+v, want untouched", got)
	}
}

// When the circle does not answer the final try, the amount stays held;
// SettlePending repeats the try with the same temp_id and posts it once.
func TestPayUnansweredThenSettled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, func(c *Config) { c.Timeout = 300 * time.Millisecond })
	circle.Set(func(f *cxptest.Circle) { f.Delay = 2 * time.Second })
	p, err := e.svc.Pay(ctx, PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice", To: "bob@acorn", Amount: 700, IdempotencyKey: "slow"})
	if err != nil || p.State != StatePending || p.Reason != reasonUnconfirmed {
		t.Fatalf("unanswered: got %+v %v, want pending", p, err)
	}
	alice := e.account(t, e.alice.Account)
	if alice.Balance != 0 || alice.PendingDebits != 700 {
		t.Fatalf("alice while pending: balance %d held %d; want 0, 700", alice.Balance, alice.PendingDebits)
	}
	circle.Set(func(f *cxptest.Circle) { f.Delay = 0 })
	e.clock.advance(time.Minute)
	if n, err := e.svc.SettlePending(ctx); err != nil || n != 1 {
		t.Fatalf("settle: got %d %v, want 1", n, err)
	}
	got, err := e.svc.Get(ctx, p.ID)
	if err != nil || got.State != StateCompleted || got.Attempts != 2 {
		t.Fatalf("after settle: got %+v %v, want completed after 2 attempts", got, err)
	}
	alice, acc := e.account(t, e.alice.Account), e.importExport(t)
	if alice.Balance != -700 || alice.PendingDebits != 0 || acc.Balance != 700 {
		t.Fatalf("after settle: alice %d held %d, import/export %d; want -700, 0, 700", alice.Balance, alice.PendingDebits, acc.Balance)
	}
	// The slow first try reached the circle too: it wrote once.
	if balance, writes, _ := circle.Snapshot(); writes != 1 || balance != -700 {
		t.Fatalf("circle: writes %d balance %d; want 1, -700", writes, balance)
	}
}

func TestHandshakeStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	if _, err := e.ledger.Transfer(ctx, ledger.TransferRequest{Debit: e.alice.Account, Credit: e.bob.Account, Amount: 5}); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Handshake(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Sent
	if s.API != "1.0" || s.Mail != "admin@leaf.example" || s.Ticks != "1" || s.Traders != 2 || s.Transactions != 1 ||
		s.URI != testPublic || s.Divisions != "01" || s.FirstTrade == 0 {
		t.Fatalf("statement: got %+v", s)
	}
	if !res.OK || res.AccountStatus != cxp.AccountTrading || res.Balance != "0.00" || !res.Keymatch {
		t.Fatalf("answer: got %+v", res)
	}
	last, ok, err := e.svc.LastHandshake(ctx, false)
	if err != nil || !ok || last.ID != res.ID || last.Balance != "0.00" || last.Min != "-500.00" || last.Ticks != "1" || last.Sent.Traders != 2 {
		t.Fatalf("last handshake: got %+v %v %v", last, ok, err)
	}
	list, err := e.svc.Communities(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "acorn" || !list[0].Trading || list[1].ID != "pine" || list[1].Trading {
		t.Fatalf("communities: got %+v %v, want acorn (trading), pine (blocked)", list, err)
	}
	// A wrong key is recorded as a failed handshake.
	e.svc.client.Signer.Key = []byte("wrong")
	if _, err := e.svc.Handshake(ctx); err == nil {
		t.Fatal("handshake with a wrong key: got nil error")
	}
	last, _, _ = e.svc.LastHandshake(ctx, false)
	if last.OK || last.Error == "" {
		t.Fatalf("failed handshake: got %+v, want recorded with its error", last)
	}
}

// The base unit's decimal places are learned from the handshake.
func TestBaseDivisionsLearned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	circle.Set(func(f *cxptest.Circle) { f.Div, f.SpendLimit = 3, "1000.000" })
	e := newEnv(t, circle.URL, nil)
	if got := e.svc.Config().BaseDivisions; got != 3 {
		t.Fatalf("base divisions: got %d, want 3 (from the handshake's min)", got)
	}
	p, err := e.svc.Pay(ctx, PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice", To: "bob@acorn", Amount: 1234, IdempotencyKey: "k"})
	if err != nil || p.State != StateCompleted || p.Quantity != "12.340" {
		t.Fatalf("pay: got %+v %v, want completed with 12.340 base", p, err)
	}
	if balance, writes, _ := circle.Snapshot(); balance != -12340 || writes != 1 {
		t.Fatalf("circle: balance %d writes %d, want -12340, 1", balance, writes)
	}
	rep, err := e.svc.Reconcile(ctx)
	if err != nil || !rep.OK || rep.BaseSum != "12.340" || rep.CircleBalance != "-12.340" {
		t.Fatalf("integrity: got %+v %v", rep, err)
	}
}

// An answer to the final try that is not a CXP answer (a proxy's error
// page) says nothing about whether the circle wrote it: the amount stays
// held until a repeated try gets a real answer.
func TestPayUnreadableAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	circle.Set(func(f *cxptest.Circle) { f.Garbage = true })
	p, err := e.svc.Pay(ctx, PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice", To: "bob@acorn", Amount: 400, IdempotencyKey: "html"})
	if err != nil || p.State != StatePending {
		t.Fatalf("unreadable answer: got %+v %v, want pending", p, err)
	}
	if a := e.account(t, e.alice.Account); a.Balance != 0 || a.PendingDebits != 400 {
		t.Fatalf("alice: got %d held %d, want 0 held 400", a.Balance, a.PendingDebits)
	}
	circle.Set(func(f *cxptest.Circle) { f.Garbage = false })
	e.clock.advance(time.Minute)
	if n, err := e.svc.SettlePending(ctx); err != nil || n != 1 {
		t.Fatalf("settle: got %d %v, want 1", n, err)
	}
	if a := e.account(t, e.alice.Account); a.Balance != -400 || a.PendingDebits != 0 {
		t.Fatalf("alice after settle: got %d held %d, want -400 held 0", a.Balance, a.PendingDebits)
	}
	if balance, writes, _ := circle.Snapshot(); writes != 1 || balance != -400 {
		t.Fatalf("circle: writes %d balance %d, want 1, -400", writes, balance)
	}
}

// Issue 10, hole 2 on the payer's side: a payment whose final try went
// unanswered may have been written by the circle, so a retry that cannot
// reach the circle (connection refused) does not fail it, and its hold is
// extended rather than left to pass its deadline. Once the circle is back
// the retry completes it, after the hold's first deadline.
func TestPayRetryWhileCircleDownStaysPending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, func(c *Config) { c.Timeout = 300 * time.Millisecond; c.HoldTTL = time.Minute })
	circle.Set(func(f *cxptest.Circle) { f.Delay = time.Second })
	p, err := e.svc.Pay(ctx, PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice", To: "bob@acorn", Amount: 700, IdempotencyKey: "down"})
	if err != nil || p.State != StatePending {
		t.Fatalf("unanswered: got %+v %v, want pending", p, err)
	}
	circle.Close() // waits for the slow try, which the circle wrote
	circle.Set(func(f *cxptest.Circle) { f.Delay = 0 })

	e.clock.advance(2 * time.Minute) // past the hold's first deadline (within the signature window)
	if _, err := e.svc.SettlePending(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Get(ctx, p.ID)
	if err != nil || got.State != StatePending {
		t.Fatalf("retry while the circle is down: got %+v %v, want pending", got, err)
	}
	var expires time.Time
	if err := e.pool.QueryRow(ctx, `SELECT expires_at FROM ledger_pending WHERE id = $1`, got.HoldID).Scan(&expires); err != nil || !expires.After(e.clock.Now()) {
		t.Fatalf("hold deadline: got %s %v, want it extended past %s", expires, err, e.clock.Now())
	}

	// The circle is back on the same address.
	circle.Restart(t)
	e.clock.advance(30 * time.Second)
	if n, err := e.svc.SettlePending(ctx); err != nil || n != 1 {
		t.Fatalf("settle: got %d %v, want 1", n, err)
	}
	if got, err := e.svc.Get(ctx, p.ID); err != nil || got.State != StateCompleted {
		t.Fatalf("after the circle is back: got %+v %v, want completed", got, err)
	}
	alice, acc := e.account(t, e.alice.Account), e.importExport(t)
	if alice.Balance != -700 || alice.PendingDebits != 0 || acc.Balance != 700 {
		t.Fatalf("alice %d held %d, import/export %d; want -700, 0, 700", alice.Balance, alice.PendingDebits, acc.Balance)
	}
	if balance, writes, _ := circle.Snapshot(); writes != 1 || balance != -700 {
		t.Fatalf("circle: writes %d balance %d; want 1, -700", writes, balance)
	}
}

// TestPayCachesPrepare (issue 15): payments within a handshake interval use
// the circle's last prepare answer rather than asking before each; a
// payment over the cached spend limit asks again before refusing, so a
// stale limit refuses nothing the circle would take.
func TestPayCachesPrepare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	circle := newFakeCircle(t)
	e := newEnv(t, circle.URL, nil)
	prepares := func() (n int) { circle.Set(func(c *cxptest.Circle) { n = len(c.Prepares) }); return n }
	pay := func(key string, amount int64) error {
		_, err := e.svc.Pay(ctx, PayRequest{PayerAccount: e.alice.Account, PayerUsername: "alice", To: "bob@acorn", Amount: amount, IdempotencyKey: key})
		return err
	}
	if err := pay("c1", 100); err != nil {
		t.Fatal(err)
	}
	first := prepares()
	if err := pay("c2", 100); err != nil {
		t.Fatal(err)
	}
	if err := pay("c3", 100); err != nil {
		t.Fatal(err)
	}
	if got := prepares(); got != first {
		t.Fatalf("prepares after two more payments: %d, want %d (the cached answer)", got, first)
	}
	// The cached limit is lower than the circle's current one: ask again, pay.
	e.svc.mu.Lock()
	e.svc.prepared.SpendLimit = "0.50"
	e.svc.mu.Unlock()
	if err := pay("c4", 100); err != nil {
		t.Fatalf("over a stale cached limit: %v, want a fresh prepare and the payment", err)
	}
	if got := prepares(); got != first+1 {
		t.Fatalf("prepares: %d, want %d", got, first+1)
	}
	// The circle's own limit now refuses, after a fresh prepare.
	circle.Set(func(c *cxptest.Circle) { c.SpendLimit = "0.50" })
	e.svc.mu.Lock()
	e.svc.prepared.SpendLimit = "0.50"
	e.svc.mu.Unlock()
	if err := pay("c5", 100); CodeOf(err) != ErrRefused {
		t.Fatalf("over the circle's limit: %v, want refused", err)
	}
	if got := prepares(); got != first+2 {
		t.Fatalf("prepares: %d, want %d", got, first+2)
	}
}
