package intertrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/ledger"
)

// Direction says whether an intertrade left the community or came in.
type Direction string

const (
	Out Direction = "out" // a member of ours paid someone in another community
	In  Direction = "in"  // a relay from the circle paid a member of ours
)

// State is where an intertrade stands.
type State string

const (
	StatePending   State = "pending"   // the payer's amount is held; the circle has not answered yet
	StateCompleted State = "completed" // the circle confirmed; the ledger moved
	StateFailed    State = "failed"    // refused; nothing moved
)

// Intertrade is one recorded payment across the circle.
type Intertrade struct {
	ID        int64
	Direction Direction
	State     State
	TempID    string
	Account   ledger.AccountID // our member's account (0 for a refused relay to an unknown payee)
	Username  string           // our member
	// The CXP transaction's wire fields.
	Payer, PayerURL, Payee, PayeeURL, SrcURL, DestURL string
	Community                                         string // the other community's id (out) or uri (in)
	Description                                       string
	Quantity                                          cxp.Decimal // base units
	Amount                                            int64       // local minor units
	Ticks                                             cxp.Decimal // our rate used
	Rounding                                          cxp.Decimal // the conversion's remainder, base units ("" if not recorded)
	PayeeTicks                                        cxp.Decimal // out: the payee's rate the circle answered with ("" if not told)
	IdempotencyKey                                    string
	HoldID, TransferID                                int64
	Answered                                          bool     // CXP holds the circle's code
	CXP                                               cxp.Code // the circle's code (out) or our answer (in)
	Message                                           string   // the CXP message
	Reason                                            string   // plain words
	CircleTxID                                        string
	Attempts                                          int
	CreatedAt, UpdatedAt                              time.Time
}

const intertradeColumns = `id, direction, state, temp_id, local_account, local_username,
	payer, payer_url, payee, payee_url, src_url, dest_url, remote_community, description,
	quantity::text, amount, ticks::text, idempotency_key, hold_id, transfer_id, cxp_code, cxp_message,
	reason, circle_id, attempts, created_at, updated_at, coalesce(rounding::text, ''), coalesce(payee_ticks::text, '')`

func scanIntertrade(row pgx.Row) (Intertrade, error) {
	var it Intertrade
	var account, holdID, transferID *int64
	var key *string
	var code *int
	var quantity, ticks, rounding, payeeTicks string
	err := row.Scan(&it.ID, &it.Direction, &it.State, &it.TempID, &account, &it.Username,
		&it.Payer, &it.PayerURL, &it.Payee, &it.PayeeURL, &it.SrcURL, &it.DestURL, &it.Community, &it.Description,
		&quantity, &it.Amount, &ticks, &key, &holdID, &transferID, &code, &it.Message,
		&it.Reason, &it.CircleTxID, &it.Attempts, &it.CreatedAt, &it.UpdatedAt, &rounding, &payeeTicks)
	if err != nil {
		return Intertrade{}, err
	}
	it.Quantity, it.Ticks, it.Rounding = cxp.Decimal(quantity), cxp.Decimal(ticks), cxp.Decimal(rounding)
	it.PayeeTicks = cxp.Decimal(payeeTicks)
	if account != nil {
		it.Account = ledger.AccountID(*account)
	}
	if key != nil {
		it.IdempotencyKey = *key
	}
	if holdID != nil {
		it.HoldID = *holdID
	}
	if transferID != nil {
		it.TransferID = *transferID
	}
	if code != nil {
		it.Answered, it.CXP = true, cxp.Code(*code)
	}
	return it, nil
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertIntertrade writes it and returns the stored row. A row with the same
// idempotency key (out) or temp_id (in) is not overwritten: inserted is
// false and the existing row is returned.
func insertIntertrade(ctx context.Context, q querier, it Intertrade, answer any) (stored Intertrade, inserted bool, err error) {
	var account *int64
	if it.Account != 0 {
		a := int64(it.Account)
		account = &a
	}
	var key *string
	if it.Direction == Out {
		key = &it.IdempotencyKey
	}
	var code *int
	if it.Answered {
		c := int(it.CXP)
		code = &c
	}
	var answerJSON []byte
	if answer != nil {
		if answerJSON, err = json.Marshal(answer); err != nil {
			return Intertrade{}, false, err
		}
	}
	var transferID *int64
	if it.TransferID != 0 {
		transferID = &it.TransferID
	}
	var rounding *string
	if it.Rounding != "" {
		r := string(it.Rounding)
		rounding = &r
	}
	row := q.QueryRow(ctx, `
		INSERT INTO intertrades (direction, state, temp_id, local_account, local_username,
			payer, payer_url, payee, payee_url, src_url, dest_url, remote_community, description,
			quantity, amount, ticks, idempotency_key, transfer_id, cxp_code, cxp_message, reason, answer,
			created_at, updated_at, rounding)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::numeric, $15, $16::numeric,
			$17, $18, $19, $20, $21, $22, $23, $23, $24::numeric)
		ON CONFLICT DO NOTHING
		RETURNING `+intertradeColumns,
		it.Direction, it.State, it.TempID, account, it.Username,
		it.Payer, it.PayerURL, it.Payee, it.PayeeURL, it.SrcURL, it.DestURL, it.Community, it.Description,
		string(it.Quantity), it.Amount, string(it.Ticks), key, transferID, code, it.Message, it.Reason, answerJSON,
		it.CreatedAt, rounding)
	stored, err = scanIntertrade(row)
	if err == nil {
		return stored, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Intertrade{}, false, fmt.Errorf("intertrade: record: %w", err)
	}
	// The key or temp_id exists: return that row.
	if it.Direction == Out {
		stored, err = outByKey(ctx, q, it.Account, it.IdempotencyKey)
	} else {
		stored, err = scanIntertrade(q.QueryRow(ctx, `SELECT `+intertradeColumns+` FROM intertrades
			WHERE direction = 'in' AND src_url IN ($1, $1 || '/') AND temp_id = $2 ORDER BY id LIMIT 1`, it.SrcURL, it.TempID))
	}
	if err != nil {
		return Intertrade{}, false, fmt.Errorf("intertrade: read existing: %w", err)
	}
	return stored, false, nil
}

// outByKey is the outgoing payment of account with the idempotency key, or pgx.ErrNoRows.
func outByKey(ctx context.Context, q querier, account ledger.AccountID, key string) (Intertrade, error) {
	return scanIntertrade(q.QueryRow(ctx, `SELECT `+intertradeColumns+` FROM intertrades
		WHERE direction = 'out' AND local_account = $1 AND idempotency_key = $2`, int64(account), key))
}

// inByTempID is the relay received with temp_id from src_url (normalised:
// no trailing slash; a row recorded before with one is found too), locked,
// with the answer we gave; pgx.ErrNoRows when there is none.
func inByTempID(ctx context.Context, q querier, srcURL, tempID string) (Intertrade, []byte, error) {
	var answer []byte
	it, err := scanIntertrade(q.QueryRow(ctx, `SELECT `+intertradeColumns+` FROM intertrades
		WHERE direction = 'in' AND src_url IN ($1, $1 || '/') AND temp_id = $2 ORDER BY id LIMIT 1 FOR UPDATE`, srcURL, tempID))
	if err != nil {
		return Intertrade{}, nil, err
	}
	err = q.QueryRow(ctx, `SELECT answer FROM intertrades WHERE id = $1`, it.ID).Scan(&answer)
	return it, answer, err
}

// byID is one intertrade, or pgx.ErrNoRows.
func byID(ctx context.Context, q querier, id int64, lock bool) (Intertrade, error) {
	sql := `SELECT ` + intertradeColumns + ` FROM intertrades WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	return scanIntertrade(q.QueryRow(ctx, sql, id))
}

// update is the change of an intertrade's state after an answer.
type update struct {
	State      State
	Answered   bool
	CXP        cxp.Code
	Message    string
	Reason     string
	HoldID     int64
	TransferID int64
	CircleTxID string
	PayeeTicks cxp.Decimal // a valid rate, or "" (kept as it is)
}

func saveUpdate(ctx context.Context, q querier, id int64, u update, now time.Time) (Intertrade, error) {
	var code *int
	if u.Answered {
		c := int(u.CXP)
		code = &c
	}
	nullable := func(v int64) *int64 {
		if v == 0 {
			return nil
		}
		return &v
	}
	it, err := scanIntertrade(q.QueryRow(ctx, `
		UPDATE intertrades SET state = $2, cxp_code = COALESCE($3, cxp_code), cxp_message = $4, reason = $5,
			hold_id = COALESCE($6, hold_id), transfer_id = COALESCE($7, transfer_id),
			circle_id = CASE WHEN $8 = '' THEN circle_id ELSE $8 END,
			attempts = attempts + 1, updated_at = $9,
			payee_ticks = COALESCE(NULLIF($10, '')::numeric, payee_ticks)
		WHERE id = $1
		RETURNING `+intertradeColumns,
		id, u.State, code, u.Message, u.Reason, nullable(u.HoldID), nullable(u.TransferID), u.CircleTxID, now, string(u.PayeeTicks)))
	if err != nil {
		return Intertrade{}, fmt.Errorf("intertrade: update %d: %w", id, err)
	}
	return it, nil
}

// setHold records the payer's hold on an outgoing payment.
func setHold(ctx context.Context, q querier, id, holdID int64, now time.Time) error {
	_, err := q.Exec(ctx, `UPDATE intertrades SET hold_id = $2, updated_at = $3 WHERE id = $1`, id, holdID, now)
	if err != nil {
		return fmt.Errorf("intertrade: record hold: %w", err)
	}
	return nil
}

// Query selects intertrades for the admin pages; zero values select all.
type Query struct {
	State     State
	Direction Direction
	Before    int64 // id cursor: only ids below it
	Limit     int   // 50 by default, at most 500
}

// History lists intertrades, newest first.
func (s *Service) History(ctx context.Context, q Query) ([]Intertrade, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if q.Limit > 500 {
		q.Limit = 500
	}
	switch q.State {
	case "", StatePending, StateCompleted, StateFailed:
	default:
		return nil, invalid("state", "state must be pending, completed or failed")
	}
	switch q.Direction {
	case "", In, Out:
	default:
		return nil, invalid("direction", "direction must be in or out")
	}
	if q.Before < 0 {
		return nil, invalid("before", "before must be a positive id")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+intertradeColumns+` FROM intertrades
		WHERE ($1 = '' OR state = $1) AND ($2 = '' OR direction = $2) AND ($3 = 0 OR id < $3)
		ORDER BY id DESC LIMIT $4`, string(q.State), string(q.Direction), q.Before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("intertrade: history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Intertrade, error) { return scanIntertrade(r) })
	if err != nil {
		return nil, fmt.Errorf("intertrade: history: %w", err)
	}
	return out, nil
}

// Get returns one intertrade, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id int64) (Intertrade, error) {
	it, err := byID(ctx, s.pool, id, false)
	if errors.Is(err, pgx.ErrNoRows) {
		return Intertrade{}, &Error{Code: ErrNotFound, Message: fmt.Sprintf("no intertrade %d", id)}
	}
	if err != nil {
		return Intertrade{}, fmt.Errorf("intertrade: read: %w", err)
	}
	return it, nil
}
