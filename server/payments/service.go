package payments

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/members"
)

// Service is the payments of one community.
type Service struct {
	pool    *pgxpool.Pool
	ledger  *ledger.Ledger
	members *members.Service
	cur     Currency
	now     func() time.Time
	group   *ledger.Committer // nil: one database transaction per payment
}

// New returns the payments service. now is the clock (time.Now if nil).
func New(pool *pgxpool.Pool, led *ledger.Ledger, mem *members.Service, cur Currency, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{pool: pool, ledger: led, members: mem, cur: cur, now: now}
}

// UseGroupCommit makes Pay commit through c: concurrent payments share one
// database transaction and one commit (ledger.Committer), with the same
// answers and guarantees as one transaction each. Call it before serving.
func (s *Service) UseGroupCommit(c *ledger.Committer) { s.group = c }

// Currency is the community currency.
func (s *Service) Currency() Currency { return s.cur }

// Payment is a committed local payment.
type Payment struct {
	TransferID     int64
	From, To       string // usernames
	Amount         int64
	Description    string
	IdempotencyKey string
	PayerBalance   int64 // the payer's balance just after
	CreatedAt      time.Time
}

// PayRequest asks to pay a local member. Payer is the logged-in member.
type PayRequest struct {
	Payer          members.Member
	To             string // a local username
	Amount         int64
	Description    string
	IdempotencyKey string // optional; repeats with the same key pay once
}

// Text limits.
const (
	MaxDescription    = 500
	MaxIdempotencyKey = 100
)

// Pay pays a local member from the payer's account.
func (s *Service) Pay(ctx context.Context, r PayRequest) (Payment, error) {
	if err := checkText("description", r.Description, MaxDescription); err != nil {
		return Payment{}, err
	}
	if r.Amount <= 0 {
		return Payment{}, invalid("amount", "amount must be greater than zero")
	}
	key, err := idempotencyKey(r.IdempotencyKey)
	if err != nil {
		return Payment{}, err
	}
	payee, err := s.payee(ctx, r.Payer, r.To)
	if err != nil {
		return Payment{}, err
	}
	transfer := s.ledger.Transfer
	if s.group != nil {
		transfer = s.group.Transfer
	}
	t, err := transfer(ctx, ledger.TransferRequest{
		Debit: r.Payer.Account, Credit: payee.Account, Amount: r.Amount,
		Description:    r.Description,
		Metadata:       map[string]string{"kind": "payment", "from": r.Payer.Username, "to": payee.Username},
		IdempotencyKey: LedgerKey(r.Payer.Account, key),
	})
	if err != nil {
		return Payment{}, s.explain(err, r.Payer.Account, payee.Account, payee.Username)
	}
	return Payment{TransferID: t.ID, From: r.Payer.Username, To: payee.Username, Amount: t.Amount,
		Description: t.Description, IdempotencyKey: key, PayerBalance: t.DebitBalance, CreatedAt: t.CreatedAt}, nil
}

// payee finds an active local member other than the payer.
func (s *Service) payee(ctx context.Context, payer members.Member, username string) (members.Member, error) {
	username = strings.ToLower(strings.TrimSpace(username))
	if username == "" {
		return members.Member{}, invalid("to", "say whom to pay: a member's username")
	}
	if strings.Contains(username, "@") {
		return members.Member{}, invalid("to", "%q is a member of another community; local payments take a username", username)
	}
	m, err := s.members.ByUsername(ctx, username)
	if members.CodeOf(err) == members.CodeNotFound {
		return members.Member{}, &Error{Code: CodeUnknownPayee, Field: "to", Message: fmt.Sprintf("there is no member %q", username)}
	}
	if err != nil {
		return members.Member{}, err
	}
	if m.ID == payer.ID {
		return members.Member{}, invalid("to", "you cannot pay yourself")
	}
	if m.Status != members.StatusActive {
		return members.Member{}, &Error{Code: CodePayeeInactive, Field: "to", Message: fmt.Sprintf("%s cannot be paid: their membership is %s", username, m.Status)}
	}
	return m, nil
}

// Account returns a member's ledger account (balance and limits).
func (s *Service) Account(ctx context.Context, m members.Member) (ledger.Account, error) {
	a, err := s.ledger.Account(ctx, m.Account)
	if err != nil {
		return ledger.Account{}, fmt.Errorf("payments: account: %w", err)
	}
	return a, nil
}

// Accounts returns the ledger accounts of the community currency by id
// (one query, for lists of members).
func (s *Service) Accounts(ctx context.Context) (map[ledger.AccountID]ledger.Account, error) {
	list, err := s.ledger.Accounts(ctx, s.cur.Code)
	if err != nil {
		return nil, fmt.Errorf("payments: accounts: %w", err)
	}
	out := make(map[ledger.AccountID]ledger.Account, len(list))
	for _, a := range list {
		out[a.ID] = a
	}
	return out, nil
}

// SetLimits changes a member's balance limits (admins only; the caller checks).
func (s *Service) SetLimits(ctx context.Context, username string, min, max int64) (ledger.Account, error) {
	if min > 0 {
		return ledger.Account{}, invalid("min", "the lower limit must be zero or negative")
	}
	if max < 0 {
		return ledger.Account{}, invalid("max", "the upper limit must be zero or positive")
	}
	m, err := s.members.ByUsername(ctx, username)
	if err != nil {
		return ledger.Account{}, err
	}
	a, err := s.ledger.SetLimits(ctx, m.Account, min, max)
	if err != nil {
		return ledger.Account{}, s.explain(err, m.Account, 0, username)
	}
	return a, nil
}

func checkText(field, v string, max int) error {
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return invalid(field, "%s must be UTF-8 text", field)
	}
	if utf8.RuneCountInString(v) > max {
		return invalid(field, "%s must have at most %d characters", field, max)
	}
	return nil
}

// idempotencyKey checks a client's key, or makes a random one.
func idempotencyKey(k string) (string, error) {
	if k == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("payments: key: %w", err)
		}
		return hex.EncodeToString(b), nil
	}
	if err := CheckIdempotencyKey(k); err != nil {
		return "", invalid("idempotency_key", "%v", err)
	}
	return k, nil
}

// CheckIdempotencyKey checks a member's non-empty payment idempotency key:
// at most MaxIdempotencyKey bytes of printable ASCII without spaces. Local
// payments and payments through the circle (package intertrade) share the
// rule, as they share the key space (LedgerKey).
func CheckIdempotencyKey(k string) error {
	if len(k) > MaxIdempotencyKey {
		return fmt.Errorf("idempotency_key must have at most %d characters", MaxIdempotencyKey)
	}
	for _, r := range k {
		if r < 0x21 || r > 0x7e {
			return errors.New("idempotency_key must be printable ASCII without spaces")
		}
	}
	return nil
}

// LedgerKey scopes a member's payment idempotency key to the member's
// account, so that two members using the same key never collide in the
// ledger. Local payments and payments through the circle (package
// intertrade) both claim their key under this name, so one key pays once
// whichever way it goes.
func LedgerKey(payer ledger.AccountID, key string) string {
	return "pay:" + strconv.FormatInt(int64(payer), 10) + ":" + key
}
