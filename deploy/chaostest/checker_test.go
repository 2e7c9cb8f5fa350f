package chaostest

import (
	"strings"
	"testing"
)

// consistent is a history and a snapshot that agree: leaf (rate 1) and
// acorn (rate 2), both 2 decimals like the base unit. alice@leaf paid bob
// 5.00 locally, paid carol@acorn 3.00 (3.00 base, 1.50 ACORN), and was
// refused 1.00 to carol@acorn.
func consistent() (History, Snapshot) {
	h := History{
		Ops: []Op{
			{Key: "k1", PayerCommunity: "leaf", Payer: "alice", PayeeCommunity: "leaf", Payee: "bob", Amount: 500, Outcome: Completed},
			{Key: "k2", PayerCommunity: "leaf", Payer: "alice", PayeeCommunity: "acorn", Payee: "carol", Amount: 300, Outcome: Completed},
			{Key: "k3", PayerCommunity: "leaf", Payer: "alice", PayeeCommunity: "acorn", Payee: "carol", Amount: 100, Outcome: Failed},
		},
		Samples: []Sample{{Where: "leaf", Account: "member:1", Balance: -500, Min: -10000, Max: 100000}},
	}
	leaf := &Community{ID: "leaf", Divisions: 2, Ticks: "1", ImportExport: "ie",
		Accounts: []Account{
			{Code: "member:1", Owner: "alice", Currency: "LEAF", Balance: -800, Min: -10000, Max: 100000},
			{Code: "member:2", Owner: "bob", Currency: "LEAF", Balance: 500, Min: -10000, Max: 100000},
			{Code: "ie", Currency: "LEAF", Balance: 300, Min: -1 << 40, Max: 1 << 40},
		},
		Transfers: []Transfer{
			{Key: "pay:1:k1", Debit: "member:1", Credit: "member:2", Amount: 500},
			{Key: "pay:1:k2", Debit: "member:1", Credit: "ie", Amount: 300},
		},
		Intertrades: []Intertrade{
			{Direction: "out", State: "completed", TempID: "T2", Local: "alice", Key: "k2", Amount: 300, Quantity: 300},
			{Direction: "out", State: "failed", TempID: "T3", Local: "alice", Key: "k3", Amount: 100, Quantity: 100},
		},
	}
	acorn := &Community{ID: "acorn", Divisions: 2, Ticks: "2", ImportExport: "ie",
		Accounts: []Account{
			{Code: "member:1", Owner: "carol", Currency: "ACORN", Balance: 150, Min: -10000, Max: 100000},
			{Code: "ie", Currency: "ACORN", Balance: -150, Min: -1 << 40, Max: 1 << 40},
		},
		Transfers:   []Transfer{{Key: "intertrade:in:1", Debit: "ie", Credit: "member:1", Amount: 150}},
		Intertrades: []Intertrade{{Direction: "in", State: "completed", TempID: "T2", Local: "carol", Amount: 150, Quantity: 300}},
	}
	s := Snapshot{
		Communities: map[string]*Community{"leaf": leaf, "acorn": acorn},
		Clearing: Clearing{Divisions: 2,
			Accounts: []Account{
				{Code: "vc:leaf", Currency: "VAL", Balance: -300, Min: -100000, Max: 100000},
				{Code: "vc:acorn", Currency: "VAL", Balance: 300, Min: -100000, Max: 100000},
			},
			Transfers: []Transfer{{Key: "intertrade:1", Debit: "vc:leaf", Credit: "vc:acorn", Amount: 300}},
			Intertrades: []ClearingIntertrade{
				{Payer: "leaf", Payee: "acorn", TempID: "T2", Status: "posted", Quantity: 300},
				{Payer: "leaf", Payee: "acorn", TempID: "T3", Status: "voided", Quantity: 100},
			},
		},
	}
	return h, s
}

func TestCheckConsistent(t *testing.T) {
	h, s := consistent()
	r := Check(h, s, Options{})
	if !r.OK() {
		t.Fatalf("a consistent history: got violations\n%s", r)
	}
	if r.Completed != 2 || r.Failed != 1 || r.Local != 1 || r.Remote != 2 || r.Remainder != "0" {
		t.Fatalf("got %s", r)
	}
}

// TestCheckFinds proves the checker able to fail: each broken history is
// reported with the kind of violation it is.
func TestCheckFinds(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(h *History, s *Snapshot)
		kind   string
		want   string // in the violation's detail
	}{
		{"lost acknowledged local payment", func(h *History, s *Snapshot) {
			h.Ops = append(h.Ops, Op{Key: "k4", PayerCommunity: "leaf", Payer: "bob", PayeeCommunity: "leaf", Payee: "alice", Amount: 100, Outcome: Completed})
		}, "lost", "k4"},
		{"lost acknowledged remote payment (payee never credited)", func(h *History, s *Snapshot) {
			acorn := s.Communities["acorn"]
			acorn.Intertrades[0].State = "failed"
			acorn.Transfers = nil
			acorn.Accounts[0].Balance, acorn.Accounts[1].Balance = 0, 0
		}, "lost", "k2"},
		{"doubled local payment", func(h *History, s *Snapshot) {
			leaf := s.Communities["leaf"]
			leaf.Transfers = append(leaf.Transfers, Transfer{Key: "pay:1:k1", Debit: "member:1", Credit: "member:2", Amount: 500})
			leaf.Accounts[0].Balance -= 500
			leaf.Accounts[1].Balance += 500
		}, "doubled", "k1"},
		{"doubled credit at the payee", func(h *History, s *Snapshot) {
			acorn := s.Communities["acorn"]
			acorn.Intertrades = append(acorn.Intertrades, acorn.Intertrades[0])
		}, "doubled", "T2"},
		{"one-sided credit: payer told failed, payee credited (hole 1)", func(h *History, s *Snapshot) {
			acorn := s.Communities["acorn"]
			acorn.Intertrades = append(acorn.Intertrades, Intertrade{Direction: "in", State: "completed", TempID: "T3", Local: "carol", Amount: 50, Quantity: 100})
			acorn.Transfers = append(acorn.Transfers, Transfer{Key: "intertrade:in:2", Debit: "ie", Credit: "member:1", Amount: 50})
			acorn.Accounts[0].Balance += 50
			acorn.Accounts[1].Balance -= 50
		}, "one_sided", "T3"},
		{"one-sided even when nobody was told (unacknowledged)", func(h *History, s *Snapshot) {
			h.Ops = h.Ops[:2]
			acorn := s.Communities["acorn"]
			acorn.Intertrades = append(acorn.Intertrades, Intertrade{Direction: "in", State: "completed", TempID: "T3", Local: "carol", Amount: 50, Quantity: 100})
		}, "one_sided", "T3"},
		{"acknowledged failed, but moved", func(h *History, s *Snapshot) {
			h.Ops[0].Outcome = Failed
		}, "moved_on_failure", "k1"},
		{"concurrent copies of one key answered differently (hole 4)", func(h *History, s *Snapshot) {
			h.Ops[0].Copies, h.Ops[0].Disagree = 3, "completed, failed over_limit"
		}, "idempotency", "k1"},
		{"still pending after recovery", func(h *History, s *Snapshot) {
			s.Communities["leaf"].Intertrades[1].State = "pending"
		}, "unresolved", "T3"},
		{"limit breach sampled during the run", func(h *History, s *Snapshot) {
			h.Samples = append(h.Samples, Sample{Where: "leaf", Account: "member:1", Balance: -10001, Min: -10000, Max: 100000})
		}, "limit", "member:1"},
		{"currency does not sum to zero", func(h *History, s *Snapshot) {
			s.Communities["leaf"].Accounts[1].Balance += 1
			s.Communities["leaf"].Transfers = append(s.Communities["leaf"].Transfers, Transfer{Key: "x", Debit: "nowhere", Credit: "member:2", Amount: 1})
		}, "sum", "LEAF"},
		{"balance differs from its journal", func(h *History, s *Snapshot) {
			s.Communities["leaf"].Transfers = s.Communities["leaf"].Transfers[:1]
		}, "journal", "ie"},
		{"import/export differs from the virtual customer", func(h *History, s *Snapshot) {
			s.Clearing.Accounts[0].Balance, s.Clearing.Accounts[1].Balance = -299, 299
		}, "import_export", "virtual customer"},
		{"unexplained rounding remainder (hole 3)", func(h *History, s *Snapshot) {
			acorn := s.Communities["acorn"]
			acorn.Intertrades[0].Amount = 151
			acorn.Transfers[0].Amount = 151
			acorn.Accounts[0].Balance, acorn.Accounts[1].Balance = 151, -151
		}, "remainder", "-2 base"},
		{"recorded remainder that is not the conversion's", func(h *History, s *Snapshot) {
			// acorn received 3.00 base as 1.49 ACORN: 0.02 base left, recorded as 0.01.
			acorn := s.Communities["acorn"]
			acorn.Intertrades[0].Amount, acorn.Intertrades[0].Rounding = 149, "0.01"
			acorn.Transfers[0].Amount = 149
			acorn.Accounts[0].Balance, acorn.Accounts[1].Balance = 149, -149
		}, "remainder", "recorded remainder 1 base minor units, the conversion left 2"},
		{"recorded remainder hiding a conversion that created value", func(h *History, s *Snapshot) {
			acorn := s.Communities["acorn"]
			acorn.Intertrades[0].Amount, acorn.Intertrades[0].Rounding = 151, "-0.02"
			acorn.Transfers[0].Amount = 151
			acorn.Accounts[0].Balance, acorn.Accounts[1].Balance = 151, -151
		}, "remainder", "created 2 base minor units"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, s := consistent()
			tt.break_(&h, &s)
			r := Check(h, s, Options{})
			for _, v := range r.Violations {
				if v.Kind == tt.kind && strings.Contains(v.Detail, tt.want) {
					return
				}
			}
			t.Fatalf("got\n%s\nwant a %s violation naming %q", r, tt.kind, tt.want)
		})
	}
}

// TestCheckRoundingAccountExplains: a remainder held by a rounding account
// is no violation.
func TestCheckRoundingAccountExplains(t *testing.T) {
	h, s := consistent()
	acorn := s.Communities["acorn"]
	acorn.Intertrades[0].Amount = 151
	acorn.Transfers[0].Amount = 151
	acorn.Accounts[0].Balance, acorn.Accounts[1].Balance = 151, -151
	// The circle's rounding account paid the 2 base minor units the payee got extra.
	s.Clearing.Accounts = append(s.Clearing.Accounts, Account{Code: "rounding", Currency: "VAL", Balance: -2, Min: -1000, Max: 1000},
		Account{Code: "vc:acorn-fix", Currency: "VAL", Balance: 2, Min: -1000, Max: 1000})
	s.Clearing.Transfers = append(s.Clearing.Transfers, Transfer{Key: "r", Debit: "rounding", Credit: "vc:acorn-fix", Amount: 2})
	if r := Check(h, s, Options{}); !r.OK() {
		t.Fatalf("got\n%s\nwant no violation", r)
	}
}

// TestCheckRecordedRoundingExplains: a community that records each
// conversion's remainder (the intertrades' rounding column) explains it.
func TestCheckRecordedRoundingExplains(t *testing.T) {
	h, s := consistent()
	acorn := s.Communities["acorn"]
	// 3.00 base at rate 2 credited as 1.49 ACORN (worth 2.98): 0.02 base recorded.
	acorn.Intertrades[0].Amount, acorn.Intertrades[0].Rounding, acorn.Intertrades[0].Ticks = 149, "0.02", "2"
	acorn.Transfers[0].Amount = 149
	acorn.Accounts[0].Balance, acorn.Accounts[1].Balance = 149, -149
	if r := Check(h, s, Options{}); !r.OK() {
		t.Fatalf("got\n%s\nwant no violation", r)
	}
}
