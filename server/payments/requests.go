package payments

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/server/members"
)

// RequestStatus is the state of a payment request.
type RequestStatus string

const (
	RequestOpen      RequestStatus = "open"
	RequestPaid      RequestStatus = "paid"
	RequestRejected  RequestStatus = "rejected"
	RequestCancelled RequestStatus = "cancelled"
)

// Request is a bill: Payee asks Payer for Amount. The payer pays it
// (status paid) or rejects it; the payee may cancel it while it is open.
type Request struct {
	ID          int64
	Payee       string // usernames
	Payer       string
	Amount      int64
	Description string
	Status      RequestStatus
	TransferID  int64 // the payment, once paid
	CreatedAt   time.Time
	ResolvedAt  time.Time // zero while open
}

// NewRequest is a bill to send: Payee (the logged-in member) asks From.
type NewRequest struct {
	Payee          members.Member
	From           string // the payer's username
	Amount         int64
	Description    string
	IdempotencyKey string // optional; a repeat returns the first request
}

const requestColumns = `r.id, pe.username, pr.username, r.amount, r.description, r.status, coalesce(r.transfer_id, 0), r.created_at, r.resolved_at`
const requestFrom = ` FROM payment_requests r JOIN members pe ON pe.id = r.payee_id JOIN members pr ON pr.id = r.payer_id `

func scanRequest(row pgx.Row) (Request, error) {
	var r Request
	var resolved *time.Time
	err := row.Scan(&r.ID, &r.Payee, &r.Payer, &r.Amount, &r.Description, &r.Status, &r.TransferID, &r.CreatedAt, &resolved)
	if resolved != nil {
		r.ResolvedAt = *resolved
	}
	return r, err
}

// CreateRequest sends a bill.
func (s *Service) CreateRequest(ctx context.Context, n NewRequest) (Request, error) {
	if n.Amount <= 0 {
		return Request{}, invalid("amount", "amount must be greater than zero")
	}
	if err := checkText("description", n.Description, MaxDescription); err != nil {
		return Request{}, err
	}
	if n.IdempotencyKey != "" {
		if _, err := idempotencyKey(n.IdempotencyKey); err != nil {
			return Request{}, err
		}
	}
	payer, err := s.payee(ctx, n.Payee, n.From) // the same checks as a payee: local, active, not oneself
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Field == "to" {
			e.Field = "from"
			if e.Code == CodeUnknownPayee {
				e.Code = CodeInvalid
			}
		}
		return Request{}, err
	}
	var key *string
	if n.IdempotencyKey != "" {
		key = &n.IdempotencyKey
	}
	var id int64
	err = s.pool.QueryRow(ctx, `
		INSERT INTO payment_requests (payee_id, payer_id, amount, description, idempotency_key, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT ON CONSTRAINT payment_requests_idempotency_key DO NOTHING
		RETURNING id`, n.Payee.ID, payer.ID, n.Amount, n.Description, key, s.now()).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		// A repeat: the same content returns the first request.
		first, err := scanRequest(s.pool.QueryRow(ctx, `SELECT `+requestColumns+requestFrom+`WHERE r.payee_id = $1 AND r.idempotency_key = $2`, n.Payee.ID, n.IdempotencyKey))
		if err != nil {
			return Request{}, fmt.Errorf("payments: request: %w", err)
		}
		if first.Payer != payer.Username || first.Amount != n.Amount || first.Description != n.Description {
			return Request{}, &Error{Code: CodeIdempotencyConflict, Field: "idempotency_key",
				Message: "this idempotency_key was already used for a different request"}
		}
		return first, nil
	}
	if err != nil {
		return Request{}, fmt.Errorf("payments: request: %w", err)
	}
	return s.request(ctx, s.pool, id)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Service) request(ctx context.Context, q querier, id int64) (Request, error) {
	r, err := scanRequest(q.QueryRow(ctx, `SELECT `+requestColumns+requestFrom+`WHERE r.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Request{}, refuse(CodeNotFound, "no payment request %d", id)
	}
	if err != nil {
		return Request{}, fmt.Errorf("payments: request: %w", err)
	}
	return r, nil
}

// Request returns a request that m sent or received; others' requests are
// CodeNotFound.
func (s *Service) Request(ctx context.Context, m members.Member, id int64) (Request, error) {
	r, err := s.request(ctx, s.pool, id)
	if err != nil {
		return Request{}, err
	}
	if r.Payee != m.Username && r.Payer != m.Username {
		return Request{}, refuse(CodeNotFound, "no payment request %d", id)
	}
	return r, nil
}

// Requests lists m's requests, newest first: those m must pay (incoming,
// role "payer"), those m sent (role "payee"), or both (role ""); status ""
// means every status.
func (s *Service) Requests(ctx context.Context, m members.Member, role string, status RequestStatus) ([]Request, error) {
	var where string
	switch role {
	case "payer":
		where = `r.payer_id = $1`
	case "payee":
		where = `r.payee_id = $1`
	case "":
		where = `(r.payer_id = $1 OR r.payee_id = $1)`
	default:
		return nil, invalid("role", "role must be payer or payee")
	}
	switch status {
	case "", RequestOpen, RequestPaid, RequestRejected, RequestCancelled:
	default:
		return nil, invalid("status", "status must be open, paid, rejected or cancelled")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+requestColumns+requestFrom+`WHERE `+where+` AND ($2 = '' OR r.status = $2) ORDER BY r.id DESC LIMIT 500`, m.ID, string(status))
	if err != nil {
		return nil, fmt.Errorf("payments: requests: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Request, error) { return scanRequest(r) })
	if err != nil {
		return nil, fmt.Errorf("payments: requests: %w", err)
	}
	return out, nil
}

// AcceptRequest pays an open request addressed to payer, atomically with
// marking it paid. Accepting a request already paid returns it unchanged.
func (s *Service) AcceptRequest(ctx context.Context, payer members.Member, id int64) (Request, error) {
	var payeeAccount ledger.AccountID
	var payeeName string
	err := s.ledger.InTx(ctx, func(tx *ledger.Tx) error {
		c := tx.Conn()
		var payerID, amount int64
		var status RequestStatus
		var description string
		var acc int64
		err := c.QueryRow(ctx, `
			SELECT r.payer_id, r.amount, r.status, r.description, pe.account_id, pe.username
			FROM payment_requests r JOIN members pe ON pe.id = r.payee_id
			WHERE r.id = $1 FOR UPDATE OF r`, id).Scan(&payerID, &amount, &status, &description, &acc, &payeeName)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && payerID != payer.ID {
			return refuse(CodeNotFound, "no payment request %d addressed to you", id)
		}
		if err != nil {
			return err
		}
		payeeAccount = ledger.AccountID(acc)
		if status == RequestPaid {
			return nil
		}
		if status != RequestOpen {
			return refuse(CodeNotOpen, "payment request %d is %s", id, status)
		}
		t, err := tx.Transfer(ctx, ledger.TransferRequest{
			Debit: payer.Account, Credit: payeeAccount, Amount: amount, Description: description,
			Metadata:       map[string]string{"kind": "request", "request": strconv.FormatInt(id, 10), "from": payer.Username, "to": payeeName},
			IdempotencyKey: "request:" + strconv.FormatInt(id, 10),
		})
		if err != nil {
			return err
		}
		_, err = c.Exec(ctx, `UPDATE payment_requests SET status = 'paid', transfer_id = $2, resolved_at = $3 WHERE id = $1`, id, t.ID, s.now())
		return err
	})
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return Request{}, pe
		}
		return Request{}, s.explain(err, payer.Account, payeeAccount, payeeName)
	}
	return s.request(ctx, s.pool, id)
}

// RejectRequest refuses an open request addressed to payer.
func (s *Service) RejectRequest(ctx context.Context, payer members.Member, id int64) (Request, error) {
	return s.close(ctx, id, `payer_id`, payer.ID, RequestRejected)
}

// CancelRequest withdraws an open request that payee sent.
func (s *Service) CancelRequest(ctx context.Context, payee members.Member, id int64) (Request, error) {
	return s.close(ctx, id, `payee_id`, payee.ID, RequestCancelled)
}

func (s *Service) close(ctx context.Context, id int64, party string, memberID int64, to RequestStatus) (Request, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE payment_requests SET status = $3, resolved_at = $4 WHERE id = $1 AND `+party+` = $2 AND status = 'open'`,
		id, memberID, to, s.now())
	if err != nil {
		return Request{}, fmt.Errorf("payments: request: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return s.request(ctx, s.pool, id)
	}
	var status RequestStatus
	err = s.pool.QueryRow(ctx, `SELECT status FROM payment_requests WHERE id = $1 AND `+party+` = $2`, id, memberID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return Request{}, refuse(CodeNotFound, "no payment request %d for you to %s", id, map[RequestStatus]string{RequestRejected: "reject", RequestCancelled: "cancel"}[to])
	}
	if err != nil {
		return Request{}, fmt.Errorf("payments: request: %w", err)
	}
	return Request{}, refuse(CodeNotOpen, "payment request %d is %s", id, status)
}
