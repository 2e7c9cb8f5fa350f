package ledger

import (
	"context"
	"testing"
	"time"
)

func TestStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, _, clk := newTestLedger(t)
	a := mustAccount(t, l, "a", "EUR", -1000, 1000)
	b := mustAccount(t, l, "b", "EUR", -1000, 1000)
	c := mustAccount(t, l, "c", "EUR", -1000, 1000)
	// a's lines: +10, -3, (b↔c, not a's), +7, -20, +1 ; one minute apart.
	start := clk.Now()
	steps := []TransferRequest{
		{Debit: b.ID, Credit: a.ID, Amount: 10},
		{Debit: a.ID, Credit: c.ID, Amount: 3, Description: "third"},
		{Debit: b.ID, Credit: c.ID, Amount: 50},
		{Debit: c.ID, Credit: a.ID, Amount: 7},
		{Debit: a.ID, Credit: b.ID, Amount: 20},
		{Debit: b.ID, Credit: a.ID, Amount: 1},
	}
	var ids []int64
	for _, r := range steps {
		ids = append(ids, mustTransfer(t, l, r).ID)
		clk.Add(time.Minute)
	}
	type line struct {
		id      int64
		amount  int64
		balance int64
		cp      AccountID
	}
	all := []line{{ids[0], 10, 10, b.ID}, {ids[1], -3, 7, c.ID}, {ids[3], 7, 14, c.ID}, {ids[4], -20, -6, b.ID}, {ids[5], 1, -5, b.ID}}
	check := func(name string, st Statement, want []line, opening, next int64) {
		t.Helper()
		if st.Opening != opening || st.Next != next || len(st.Lines) != len(want) {
			t.Fatalf("%s: got opening %d next %d %d lines, want %d, %d, %d", name, st.Opening, st.Next, len(st.Lines), opening, next, len(want))
		}
		for i, w := range want {
			g := st.Lines[i]
			if (line{g.TransferID, g.Amount, g.Balance, g.Counterparty}) != w {
				t.Fatalf("%s: line %d: got %+v, want %+v", name, i, g, w)
			}
		}
		if st.Account.ID != a.ID || st.Account.Balance != -5 {
			t.Fatalf("%s: got account %d balance %d, want %d balance -5", name, st.Account.ID, st.Account.Balance, a.ID)
		}
	}

	st := must(l.Statement(ctx, a.ID, StatementQuery{}))
	check("all", st, all, 0, 0)
	if st.Lines[1].Description != "third" || !st.Lines[1].Time.Equal(start.Add(time.Minute)) {
		t.Fatalf("line 1: got %+v", st.Lines[1])
	}
	p1 := must(l.Statement(ctx, a.ID, StatementQuery{Limit: 2}))
	check("page 1", p1, all[:2], 0, ids[1])
	p2 := must(l.Statement(ctx, a.ID, StatementQuery{Limit: 2, After: p1.Next}))
	check("page 2", p2, all[2:4], 7, ids[4])
	p3 := must(l.Statement(ctx, a.ID, StatementQuery{Limit: 2, After: p2.Next}))
	check("page 3", p3, all[4:], -6, 0)
	p4 := must(l.Statement(ctx, a.ID, StatementQuery{Limit: 2, After: ids[5]}))
	check("past the end", p4, nil, -5, 0)
	// Time bounds: minutes 1 to 4 (To exclusive) hold lines 1, 3 (and b↔c).
	win := must(l.Statement(ctx, a.ID, StatementQuery{From: start.Add(time.Minute), To: start.Add(4 * time.Minute)}))
	check("window", win, all[1:3], 10, 0)
	empty := must(l.Statement(ctx, a.ID, StatementQuery{From: start.Add(2 * time.Minute), To: start.Add(3 * time.Minute)}))
	check("empty window", empty, nil, 7, 0)
	if _, err := l.Statement(ctx, 999, StatementQuery{}); CodeOf(err) != CodeUnknownAccount {
		t.Fatalf("unknown account: got %v, want %s", err, CodeUnknownAccount)
	}

	accs := must(l.Accounts(ctx, "EUR"))
	if len(accs) != 3 || accs[0].ID != a.ID || accs[2].ID != c.ID {
		t.Fatalf("accounts: got %+v", accs)
	}
	if got := must(l.Accounts(ctx, "USD")); len(got) != 0 {
		t.Fatalf("USD accounts: got %d, want 0", len(got))
	}
	byCode := must(l.AccountByCode(ctx, "b"))
	if byCode.ID != b.ID || byCode.Balance != -10-50+20-1 {
		t.Fatalf("b: got balance %d, want -41", byCode.Balance)
	}
}
