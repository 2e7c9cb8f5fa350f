package contracts

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/ledger"
)

// row is a local party's run of the protocol, as stored.
type row struct {
	H            string
	Party        int
	Username     string
	Raw          []byte
	Parties      int
	Round        int
	State        string
	RoundStarted time.Time
	Deadline     time.Time
	RoundTimeout int
	Level        *int
	Decision     *string
	Token        *string
	ResolveSig   *string
	Note         string
	Cancelled    bool
	Opened       bool
	UpdatedAt    time.Time
}

const rowColumns = `h, party, username, contract, parties, round, state, round_started, deadline, round_timeout,
	level, decision, token, resolve_sig, note, cancelled, opened, updated_at`

func scanRow(r pgx.Row) (row, error) {
	var x row
	var raw string
	err := r.Scan(&x.H, &x.Party, &x.Username, &raw, &x.Parties, &x.Round, &x.State, &x.RoundStarted, &x.Deadline,
		&x.RoundTimeout, &x.Level, &x.Decision, &x.Token, &x.ResolveSig, &x.Note, &x.Cancelled, &x.Opened, &x.UpdatedAt)
	x.Raw = []byte(raw)
	return x, err
}

// start makes a row for every local party of every ready proposal that has
// none yet. A contract that does not parse, or whose key for a local party
// is not that member's key, is recorded as failed and never signed.
func (s *Service) start(ctx context.Context) (int64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT p.h, p.contract::text, p.deadline FROM deal_proposals p
		 WHERE p.state = 'ready' AND NOT EXISTS (SELECT 1 FROM contracts c WHERE c.h = p.h)
		 ORDER BY p.created_at, p.h`)
	if err != nil {
		return 0, fmt.Errorf("contracts: start: %w", err)
	}
	type ready struct {
		H        string
		Raw      string
		Deadline time.Time
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ready])
	if err != nil {
		return 0, fmt.Errorf("contracts: start: %w", err)
	}
	var n int64
	for _, r := range list {
		if err := s.startOne(ctx, r.H, []byte(r.Raw), r.Deadline); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *Service) startOne(ctx context.Context, h string, raw []byte, deadline time.Time) error {
	var c contract.Contract
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("contracts: start %s: %w", h, err)
	}
	canonical, err := contract.Canonical(raw)
	if err != nil {
		return fmt.Errorf("contracts: start %s: %w", h, err)
	}
	p, perr := s.parse(h, raw)
	now := s.cfg.Now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("contracts: start: %w", err)
	}
	defer tx.Rollback(ctx)
	for i, party := range c.Parties {
		username, ok := s.local(party)
		if !ok {
			continue
		}
		state, note := StateSigning, ""
		if perr != nil {
			state, note = StateFailed, "this server does not sign it: "+perr.Error()
		} else if key, _, err := s.cfg.Keys.Key(ctx, username); err != nil {
			if !isRefusal(err) {
				return err
			}
			state, note = StateFailed, "this server does not sign it: "+err.Error()
		} else if !bytes.Equal(key, p.Key(i)) {
			state, note = StateFailed, fmt.Sprintf("this server does not sign it: the key of party %d is not %s's key", i, party.Member)
		}
		if p != nil {
			deadline, _ = time.Parse(time.RFC3339Nano, p.Deadline)
		}
		timeout := max(c.RoundTimeoutS, 1)
		if _, err := tx.Exec(ctx, `
			INSERT INTO contracts (h, party, username, contract, parties, state, note, round_started, deadline, round_timeout, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $8, $8) ON CONFLICT ON CONSTRAINT contracts_pkey DO NOTHING`,
			h, i, username, string(canonical), len(c.Parties), state, note, now, deadline, min(timeout, contract.MaxRoundTimeout)); err != nil {
			return fmt.Errorf("contracts: start: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("contracts: start: %w", err)
	}
	return nil
}

// advanceAll runs every signing party's rounds as far as it can.
func (s *Service) advanceAll(ctx context.Context) (int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT h, party FROM contracts WHERE state = 'signing' ORDER BY h, party`)
	if err != nil {
		return 0, fmt.Errorf("contracts: advance: %w", err)
	}
	type key struct {
		H     string
		Party int
	}
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByPos[key])
	if err != nil {
		return 0, fmt.Errorf("contracts: advance: %w", err)
	}
	var n int64
	for _, k := range keys {
		moved, err := s.advance(ctx, k.H, k.Party)
		if err != nil {
			return n, err
		}
		if moved {
			n++
		}
	}
	return n, nil
}

// advance runs party's rounds of contract h: it makes its promise of the
// current round (unless its member signs themselves), moves to the next
// round when it holds M[round], ends signed with M[n+1], and turns to
// resolving on a round timeout, the deadline or a cancel. All in one
// transaction on the party's locked row; the sends it needs are stored in
// it and go after the commit.
func (s *Service) advance(ctx context.Context, h string, party int) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("contracts: advance: %w", err)
	}
	defer tx.Rollback(ctx)
	r, err := scanRow(tx.QueryRow(ctx, `SELECT `+rowColumns+` FROM contracts WHERE h = $1 AND party = $2 FOR UPDATE`, h, party))
	if err != nil {
		return false, fmt.Errorf("contracts: advance: %w", err)
	}
	if r.State != StateSigning {
		return false, nil
	}
	p, err := s.parse(h, r.Raw)
	if err != nil {
		return false, fmt.Errorf("contracts: advance: %w", err)
	}
	now := s.cfg.Now()
	moved := false
	for {
		due := r.RoundStarted.Add(time.Duration(r.RoundTimeout) * time.Second)
		if r.Cancelled || !now.Before(r.Deadline) || !now.Before(due) {
			why := "the round timed out"
			switch {
			case r.Cancelled:
				why = "the member cancelled"
			case !now.Before(r.Deadline):
				why = "the deadline passed"
			}
			if err := toResolving(ctx, tx, r, why, now); err != nil {
				return false, err
			}
			moved = true
			break
		}
		have, err := held(ctx, tx, h, r.Round)
		if err != nil {
			return false, err
		}
		if _, ok := have[party]; !ok {
			sig, err := s.cfg.Keys.Sign(ctx, r.Username, contract.PromiseMessage(h, r.Round))
			if errors.Is(err, ErrOwnKey) {
				break // the member signs m[round] through the API
			}
			if err != nil {
				return false, fmt.Errorf("contracts: sign: %w", err)
			}
			if err := s.storeOwn(ctx, tx, p, party, r.Round, base64.StdEncoding.EncodeToString(sig), now); err != nil {
				return false, err
			}
			moved = true
			continue
		}
		if len(have) < r.Parties {
			break // waiting for M[round]
		}
		if r.Round == r.Parties+1 {
			if _, err := tx.Exec(ctx, `UPDATE contracts SET state = 'signed', note = 'signed by M[n+1]', updated_at = $3
				WHERE h = $1 AND party = $2`, h, party, now); err != nil {
				return false, fmt.Errorf("contracts: advance: %w", err)
			}
			moved = true
			break
		}
		r.Round++
		r.RoundStarted = now
		if _, err := tx.Exec(ctx, `UPDATE contracts SET round = $3, round_started = $4, updated_at = $4 WHERE h = $1 AND party = $2`,
			h, party, r.Round, now); err != nil {
			return false, fmt.Errorf("contracts: advance: %w", err)
		}
		moved = true
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("contracts: advance: %w", err)
	}
	return moved, nil
}

// toResolving ends party's sending: it will resolve with l = round − 1 and
// M[l]; its unsent promises are dropped, never sent.
func toResolving(ctx context.Context, tx pgx.Tx, r row, why string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE contracts SET state = 'resolving', level = round - 1, note = $3, updated_at = $4
		WHERE h = $1 AND party = $2`, r.H, r.Party, why+": resolving with T", now); err != nil {
		return fmt.Errorf("contracts: resolving: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM contract_sends WHERE h = $1 AND party = $2`, r.H, r.Party); err != nil {
		return fmt.Errorf("contracts: resolving: %w", err)
	}
	return nil
}

// held is the promises of round r of contract h this server holds, by party.
func held(ctx context.Context, q pgx.Tx, h string, r int) (map[int]string, error) {
	rows, err := q.Query(ctx, `SELECT party, sig FROM contract_promises WHERE h = $1 AND round = $2`, h, r)
	if err != nil {
		return nil, fmt.Errorf("contracts: promises: %w", err)
	}
	type pr struct {
		Party int
		Sig   string
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pr])
	if err != nil {
		return nil, fmt.Errorf("contracts: promises: %w", err)
	}
	out := make(map[int]string, len(list))
	for _, x := range list {
		out[x.Party] = x.Sig
	}
	return out, nil
}

// storeOwn stores local party's promise m[r, party] and a send of it to
// every other party's home server.
func (s *Service) storeOwn(ctx context.Context, tx pgx.Tx, p *contract.Parsed, party, r int, sig string, now time.Time) error {
	if err := p.VerifyPromise(party, r, sig); err != nil {
		return fmt.Errorf("contracts: own promise: %w", err)
	}
	h := p.Hash()
	if _, err := tx.Exec(ctx, `INSERT INTO contract_promises (h, party, round, sig, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT ON CONSTRAINT contract_promises_pkey DO NOTHING`, h, party, r, sig, now); err != nil {
		return fmt.Errorf("contracts: own promise: %w", err)
	}
	for _, target := range s.others(p) {
		if _, err := tx.Exec(ctx, `INSERT INTO contract_sends (h, party, round, target, next_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT ON CONSTRAINT contract_sends_pkey DO NOTHING`, h, party, r, target, now); err != nil {
			return fmt.Errorf("contracts: own promise: %w", err)
		}
	}
	return nil
}

// others is the home servers of the other parties, once each, not this one.
func (s *Service) others(p *contract.Parsed) []string {
	seen := map[string]bool{s.cfg.BaseURL: true}
	var out []string
	for _, party := range p.Parties {
		srv := strings.TrimRight(party.Server, "/")
		if !seen[srv] {
			seen[srv] = true
			out = append(out, srv)
		}
	}
	return out
}

// promiseBody is the body of POST /federation/v1/contracts/{h}/promises.
type promiseBody struct {
	Party int    `json:"party"`
	Round int    `json:"round"`
	Sig   string `json:"sig"`
}

// flush sends every due promise of a party that has not resolved (one
// signed by M[n+1] still owes the others its last promise); a failed send
// is retried later, backing off up to a minute. (A cancel that lands while a
// promise m[r] is on its way lets that one go: the party asks T at level
// r−1, and having sent m[r] is within what T allows an honest party,
// seen ≤ asked + 1. It never makes m[r+1] without M[r].)
func (s *Service) flush(ctx context.Context) (int64, error) {
	if s.cfg.Send == nil {
		return 0, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT d.h, d.party, d.round, d.target, p.sig, d.attempts FROM contract_sends d
		  JOIN contract_promises p ON p.h = d.h AND p.party = d.party AND p.round = d.round
		  JOIN contracts c ON c.h = d.h AND c.party = d.party AND c.state IN ('signing', 'signed')
		 WHERE d.next_at <= $1 ORDER BY d.h, d.round, d.party, d.target`, s.cfg.Now())
	if err != nil {
		return 0, fmt.Errorf("contracts: flush: %w", err)
	}
	type send struct {
		H        string
		Party    int
		Round    int
		Target   string
		Sig      string
		Attempts int
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[send])
	if err != nil {
		return 0, fmt.Errorf("contracts: flush: %w", err)
	}
	var n int64
	for _, d := range list {
		body, _ := json.Marshal(promiseBody{Party: d.Party, Round: d.Round, Sig: d.Sig})
		err := s.cfg.Send(ctx, d.Target+"/federation/v1/contracts/"+d.H+"/promises", body)
		s.m.promises.WithLabelValues(result(err)).Inc()
		if err == nil {
			_, err = s.pool.Exec(ctx, `DELETE FROM contract_sends WHERE h = $1 AND party = $2 AND round = $3 AND target = $4`,
				d.H, d.Party, d.Round, d.Target)
			if err != nil {
				return n, fmt.Errorf("contracts: flush: %w", err)
			}
			n++
			continue
		}
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		wait := min(time.Duration(1<<min(d.Attempts, 6))*time.Second/2, time.Minute)
		if _, uerr := s.pool.Exec(ctx, `UPDATE contract_sends SET attempts = attempts + 1, next_at = $5, last_error = $6
			WHERE h = $1 AND party = $2 AND round = $3 AND target = $4`,
			d.H, d.Party, d.Round, d.Target, s.cfg.Now().Add(wait), ledger.Truncate(err.Error(), 300)); uerr != nil {
			return n, fmt.Errorf("contracts: flush: %w", uerr)
		}
	}
	return n, nil
}

// ReceivePromise stores a promise m[round, party] of contract h sent by
// peer sender (POST /federation/v1/contracts/{h}/promises): the contract
// must be a proposal known here, party one whose home server is the
// sender, round 1 … n+1 and the signature that party's. Stored once
// however often received; it reports whether it was new.
func (s *Service) ReceivePromise(ctx context.Context, sender, h string, party, round int, sig string) (bool, error) {
	if !contract.ValidHash(h) {
		return false, refuse(CodeNotFound, "no contract %q", h)
	}
	var raw string
	err := s.pool.QueryRow(ctx, `SELECT contract::text FROM deal_proposals WHERE h = $1`, h).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, refuse(CodeNotFound, "no contract %s here", h)
	}
	if err != nil {
		return false, fmt.Errorf("contracts: receive: %w", err)
	}
	p, err := s.parse(h, []byte(raw))
	if err != nil {
		return false, refuse(CodeInvalid, "contract %s cannot be signed: %v", h, err)
	}
	if party < 0 || party >= p.N() {
		return false, refuse(CodeInvalid, "no party %d in contract %s", party, h)
	}
	if strings.TrimRight(p.Parties[party].Server, "/") != strings.TrimRight(sender, "/") {
		return false, refuse(CodeForbidden, "party %d's home server is %s, not the sender %s", party, p.Parties[party].Server, sender)
	}
	if err := p.VerifyPromise(party, round, sig); err != nil {
		return false, refuse(CodeInvalid, "%v", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO contract_promises (h, party, round, sig, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT ON CONSTRAINT contract_promises_pkey DO NOTHING`, h, party, round, sig, s.cfg.Now())
	if err != nil {
		return false, fmt.Errorf("contracts: receive: %w", err)
	}
	s.Wake()
	return tag.RowsAffected() == 1, nil
}
