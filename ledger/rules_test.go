package ledger

import (
	"bytes"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestCheckMove(t *testing.T) {
	t.Parallel()
	acc := func(id AccountID, balance, pd, pc int64) Account {
		return Account{ID: id, Currency: "EUR", Min: -100, Max: 100, Status: StatusActive,
			Balance: balance, PendingDebits: pd, PendingCredits: pc}
	}
	frozen := acc(2, 0, 0, 0)
	frozen.Status = StatusFrozen
	other := acc(2, 0, 0, 0)
	other.Currency = "USD"
	tests := []struct {
		name   string
		d, c   Account
		amount int64
		want   Code
	}{
		{"ok", acc(1, 0, 0, 0), acc(2, 0, 0, 0), 100, ""},
		{"zero", acc(1, 0, 0, 0), acc(2, 0, 0, 0), 0, CodeNonPositiveAmount},
		{"negative", acc(1, 0, 0, 0), acc(2, 0, 0, 0), -5, CodeNonPositiveAmount},
		{"same", acc(1, 0, 0, 0), acc(1, 0, 0, 0), 5, CodeSameAccount},
		{"payer frozen", frozen, acc(1, 0, 0, 0), 5, CodeAccountFrozen},
		{"payee frozen", acc(1, 0, 0, 0), frozen, 5, CodeAccountFrozen},
		{"currency", acc(1, 0, 0, 0), other, 5, CodeCurrencyMismatch},
		{"lower exact", acc(1, -60, 0, 0), acc(2, 0, 0, 0), 40, ""},
		{"lower over", acc(1, -60, 0, 0), acc(2, 0, 0, 0), 41, CodeOverLowerLimit},
		{"lower counts held debits", acc(1, 0, 90, 0), acc(2, 0, 0, 0), 11, CodeOverLowerLimit},
		{"upper exact", acc(1, 0, 0, 0), acc(2, 70, 0, 0), 30, ""},
		{"upper over", acc(1, 0, 0, 0), acc(2, 70, 0, 0), 31, CodeOverUpperLimit},
		{"upper counts held credits", acc(1, 0, 0, 0), acc(2, 0, 0, 95), 6, CodeOverUpperLimit},
		{"lower checked before upper", acc(1, -100, 0, 0), acc(2, 100, 0, 0), 1, CodeOverLowerLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := checkMove(tt.d, tt.c, tt.amount)
			if got := CodeOf(e); got != tt.want {
				t.Fatalf("got %q (%v), want %q", got, e, tt.want)
			}
		})
	}
}

func TestApplyRules(t *testing.T) {
	t.Parallel()
	d := Account{ID: 1, Min: -100, Max: 100}
	c := Account{ID: 2, Min: -100, Max: 100}
	applyHold(&d, &c, 30)
	applyTransfer(&d, &c, 10)
	if got, want := holdsOf(d), "balance -10, held debits 30, held credits 0"; got != want {
		t.Fatalf("payer after hold+transfer: got %s, want %s", got, want)
	}
	applyPost(&d, &c, 30)
	if got, want := holdsOf(d), "balance -40, held debits 0, held credits 0"; got != want {
		t.Fatalf("payer after post: got %s, want %s", got, want)
	}
	if got, want := holdsOf(c), "balance 40, held debits 0, held credits 0"; got != want {
		t.Fatalf("payee after post: got %s, want %s", got, want)
	}
	applyHold(&d, &c, 5)
	releaseHold(&d, &c, 5)
	if got, want := holdsOf(c), "balance 40, held debits 0, held credits 0"; got != want {
		t.Fatalf("payee after void: got %s, want %s", got, want)
	}
}

func TestCheckSetLimits(t *testing.T) {
	t.Parallel()
	a := Account{ID: 7, Balance: -50, PendingDebits: 20, PendingCredits: 10}
	tests := []struct {
		name     string
		min, max int64
		want     Code
	}{
		{"ok", -70, 40, ""},
		{"min above zero", 1, 100, CodeInvalid},
		{"max below zero", -100, -1, CodeInvalid},
		{"beyond bound", -MaxLimit - 1, 0, CodeInvalid},
		{"excludes held debits", -69, 100, CodeLimitsExcludeBalance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CodeOf(checkSetLimits(a, tt.min, tt.max)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	b := Account{ID: 8, Balance: 50, PendingCredits: 10}
	if got := CodeOf(checkSetLimits(b, -10, 59)); got != CodeLimitsExcludeBalance {
		t.Fatalf("upper: got %q, want %q", got, CodeLimitsExcludeBalance)
	}
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := TransferRequest{Debit: 1, Credit: 2, Amount: 1}
	tests := []struct {
		name string
		r    HoldRequest
		want Code
	}{
		{"ok", HoldRequest{ok, now.Add(time.Second)}, ""},
		{"expired", HoldRequest{ok, now}, CodeInvalid},
		{"zero amount", HoldRequest{TransferRequest{Debit: 1, Credit: 2}, now.Add(time.Second)}, CodeNonPositiveAmount},
		{"same", HoldRequest{TransferRequest{Debit: 1, Credit: 1, Amount: 1}, now.Add(time.Second)}, CodeSameAccount},
		{"nul in description", HoldRequest{TransferRequest{Debit: 1, Credit: 2, Amount: 1, Description: "a\x00"}, now.Add(time.Second)}, CodeInvalid},
		{"bad utf8 key", HoldRequest{TransferRequest{Debit: 1, Credit: 2, Amount: 1, IdempotencyKey: "\xff"}, now.Add(time.Second)}, CodeInvalid},
		{"empty metadata key", HoldRequest{TransferRequest{Debit: 1, Credit: 2, Amount: 1, Metadata: map[string]string{"": "x"}}, now.Add(time.Second)}, CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CodeOf(validateHold(tt.r, now)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestContentHash(t *testing.T) {
	t.Parallel()
	base := TransferRequest{Debit: 1, Credit: 2, Amount: 3, Description: "d", Metadata: map[string]string{"a": "1", "b": "2"}, IdempotencyKey: "k"}
	same := base
	same.Metadata = map[string]string{"b": "2", "a": "1"}
	same.IdempotencyKey = "other key"
	if !bytes.Equal(contentHash(kindTransfer, base), contentHash(kindTransfer, same)) {
		t.Fatal("got different hashes for the same content, want equal")
	}
	variants := []TransferRequest{
		{Debit: 2, Credit: 1, Amount: 3, Description: "d", Metadata: base.Metadata},
		{Debit: 1, Credit: 2, Amount: 4, Description: "d", Metadata: base.Metadata},
		{Debit: 1, Credit: 2, Amount: 3, Description: "e", Metadata: base.Metadata},
		{Debit: 1, Credit: 2, Amount: 3, Description: "d", Metadata: map[string]string{"a": "1"}},
		{Debit: 1, Credit: 2, Amount: 3, Description: "d", Metadata: map[string]string{"a": "12"}},
		{Debit: 1, Credit: 2, Amount: 3, Description: "d1", Metadata: map[string]string{"": "1", "b": "2"}},
	}
	for i, v := range variants {
		if bytes.Equal(contentHash(kindTransfer, base), contentHash(kindTransfer, v)) {
			t.Errorf("variant %d: got the same hash, want different", i)
		}
	}
	if bytes.Equal(contentHash(kindTransfer, base), contentHash(kindHold, base)) {
		t.Error("transfer and hold: got the same hash, want different")
	}
}

func TestStoreErr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		want      Code
		retryable bool
	}{
		{"lower limit", &pgconn.PgError{Code: "23514", ConstraintName: "ledger_accounts_lower_limit_check"}, CodeOverLowerLimit, false},
		{"upper limit", &pgconn.PgError{Code: "23514", ConstraintName: "ledger_accounts_upper_limit_check"}, CodeOverUpperLimit, false},
		{"duplicate code", &pgconn.PgError{Code: "23505", ConstraintName: "ledger_accounts_code_key"}, CodeDuplicateAccount, false},
		{"unknown account", &pgconn.PgError{Code: "23503", ConstraintName: "ledger_transfers_debit_fkey"}, CodeUnknownAccount, false},
		{"key race", &pgconn.PgError{Code: "23505", ConstraintName: "ledger_idempotency_pkey"}, "", true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, "", true},
		{"serialization", &pgconn.PgError{Code: "40001"}, "", true},
		{"claim lost", errRetry, "", true},
		{"other", &pgconn.PgError{Code: "42P01"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := storeErr("test", tt.err)
			if got := CodeOf(err); got != tt.want {
				t.Fatalf("got code %q, want %q", got, tt.want)
			}
			if got := retryable(err); got != tt.retryable {
				t.Fatalf("got retryable %v, want %v", got, tt.retryable)
			}
		})
	}
}
