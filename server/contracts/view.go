package contracts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
)

// View is a local party's contract as its member (or an admin) sees it.
type View struct {
	H            string          `json:"h"`
	Party        int             `json:"party"`
	Member       string          `json:"member"`
	State        string          `json:"state"`
	Round        int             `json:"round"`
	Rounds       int             `json:"rounds"` // n+1
	Needs        *Needs          `json:"needs"`
	Level        *int            `json:"level"`
	Decision     string          `json:"decision,omitempty"`
	Token        string          `json:"token,omitempty"`
	Note         string          `json:"note"`
	Deadline     time.Time       `json:"deadline"`
	RoundTimeout int             `json:"round_timeout_s"`
	Evidence     []RoundHeld     `json:"evidence"`
	Legs         []LegView       `json:"legs"`
	Contract     json.RawMessage `json:"contract"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// Needs says what the member must sign themselves (own key): the promise
// of Round, or the resolve request at level Resolve.
type Needs struct {
	Round   int  `json:"round,omitempty"`
	Resolve *int `json:"resolve,omitempty"`
}

// RoundHeld is which parties' promises of a round this server holds.
type RoundHeld struct {
	Round   int   `json:"round"`
	Parties []int `json:"parties"`
}

// LegView is a leg with its settlement here, if this server settles it.
type LegView struct {
	Leg     int             `json:"leg"`
	From    string          `json:"from"`
	To      string          `json:"to"`
	Title   string          `json:"title"`
	Money   *contract.Money `json:"money"`
	State   string          `json:"state,omitempty"` // pending | paid | refused | confirmed; "" when settled elsewhere or not yet
	Message string          `json:"message,omitempty"`
	// Confirm: the viewing member receives this item and has not confirmed it.
	Confirm bool `json:"confirm"`
}

// List is the contracts of username's parties here, newest first; all of
// them when all (an admin).
func (s *Service) List(ctx context.Context, username string, all bool) ([]View, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+rowColumns+` FROM contracts WHERE $2 OR username = $1 ORDER BY created_at DESC, h, party`,
		username, all)
	if err != nil {
		return nil, fmt.Errorf("contracts: list: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) { return scanRow(r) })
	if err != nil {
		return nil, fmt.Errorf("contracts: list: %w", err)
	}
	out := make([]View, 0, len(list))
	for _, r := range list {
		v, err := s.view(ctx, r, username)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Get is contract h as username sees it (their party's run); an admin may
// see any local party's.
func (s *Service) Get(ctx context.Context, username string, admin bool, h string) (View, error) {
	r, err := s.findRow(ctx, username, admin, h)
	if err != nil {
		return View{}, err
	}
	return s.view(ctx, r, username)
}

func (s *Service) findRow(ctx context.Context, username string, admin bool, h string) (row, error) {
	r, err := scanRow(s.pool.QueryRow(ctx, `SELECT `+rowColumns+` FROM contracts WHERE h = $1 AND ($3 OR username = $2)
		ORDER BY username = $2 DESC, party LIMIT 1`, h, username, admin))
	if errors.Is(err, pgx.ErrNoRows) {
		return row{}, refuse(CodeNotFound, "no contract %s of yours here", h)
	}
	if err != nil {
		return row{}, fmt.Errorf("contracts: get: %w", err)
	}
	return r, nil
}

// memberRow is username's own party row of h, with its parsed contract.
func (s *Service) memberRow(ctx context.Context, username, h string) (*contract.Parsed, row, error) {
	r, err := s.findRow(ctx, username, false, h)
	if err != nil {
		return nil, row{}, err
	}
	p, err := s.parse(h, r.Raw)
	if err != nil {
		return nil, row{}, refuse(CodeConflict, "contract %s cannot be signed: %v", h, err)
	}
	return p, r, nil
}

func (s *Service) view(ctx context.Context, r row, viewer string) (View, error) {
	v := View{H: r.H, Party: r.Party, State: r.State, Round: r.Round, Rounds: r.Parties + 1, Level: r.Level, Note: r.Note,
		Deadline: r.Deadline.UTC(), RoundTimeout: r.RoundTimeout, Contract: r.Raw, UpdatedAt: r.UpdatedAt.UTC(),
		Member: r.Username + "@" + s.cfg.CommunityID, Evidence: []RoundHeld{}, Legs: []LegView{}}
	if r.Decision != nil {
		v.Decision = *r.Decision
	}
	if r.Token != nil {
		v.Token = *r.Token
	}
	rows, err := s.pool.Query(ctx, `SELECT round, array_agg(party ORDER BY party) FROM contract_promises WHERE h = $1 GROUP BY round ORDER BY round`, r.H)
	if err != nil {
		return View{}, fmt.Errorf("contracts: view: %w", err)
	}
	v.Evidence, err = pgx.CollectRows(rows, pgx.RowToStructByPos[RoundHeld])
	if err != nil {
		return View{}, fmt.Errorf("contracts: view: %w", err)
	}
	var c contract.Contract
	if err := json.Unmarshal(r.Raw, &c); err != nil {
		return View{}, fmt.Errorf("contracts: view: %w", err)
	}
	if _, err := s.parse(r.H, r.Raw); err == nil {
		if _, own, err := s.cfg.Keys.Key(ctx, r.Username); err == nil && own {
			switch {
			case r.State == StateSigning:
				have := false
				_ = s.pool.QueryRow(ctx, `SELECT true FROM contract_promises WHERE h = $1 AND party = $2 AND round = $3`,
					r.H, r.Party, r.Round).Scan(&have)
				if !have {
					v.Needs = &Needs{Round: r.Round}
				}
			case r.State == StateResolving && r.ResolveSig == nil:
				l := 0
				if r.Level != nil {
					l = *r.Level
				}
				v.Needs = &Needs{Resolve: &l}
			}
		}
	}
	legs := map[int][2]string{}
	lrows, err := s.pool.Query(ctx, `SELECT leg, state, message FROM contract_legs WHERE h = $1`, r.H)
	if err != nil {
		return View{}, fmt.Errorf("contracts: view: %w", err)
	}
	for lrows.Next() {
		var i int
		var st, msg string
		if err := lrows.Scan(&i, &st, &msg); err != nil {
			lrows.Close()
			return View{}, fmt.Errorf("contracts: view: %w", err)
		}
		legs[i] = [2]string{st, msg}
	}
	lrows.Close()
	if err := lrows.Err(); err != nil {
		return View{}, fmt.Errorf("contracts: view: %w", err)
	}
	for i, l := range c.Legs {
		lv := LegView{Leg: i, Title: l.Title, Money: l.Money}
		if l.From >= 0 && l.From < len(c.Parties) && l.To >= 0 && l.To < len(c.Parties) {
			lv.From, lv.To = c.Parties[l.From].Member, c.Parties[l.To].Member
			if st, ok := legs[i]; ok {
				lv.State, lv.Message = st[0], st[1]
				u, local := s.local(c.Parties[l.To])
				lv.Confirm = local && u == viewer && l.Money == nil && st[0] == LegPending
			}
		}
		v.Legs = append(v.Legs, lv)
	}
	return v, nil
}

// MemberPromise stores the promise m[round, i] that username, party i of
// h holding their own key, signed themselves: round must be the round
// their party is in and the signature theirs. It goes to the other
// parties like one this server made.
func (s *Service) MemberPromise(ctx context.Context, username, h string, round int, sig string) error {
	p, r, err := s.memberRow(ctx, username, h)
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("contracts: promise: %w", err)
	}
	defer tx.Rollback(ctx)
	var state string
	var cur int
	if err := tx.QueryRow(ctx, `SELECT state, round FROM contracts WHERE h = $1 AND party = $2 FOR UPDATE`, h, r.Party).Scan(&state, &cur); err != nil {
		return fmt.Errorf("contracts: promise: %w", err)
	}
	if state != StateSigning {
		return refuse(CodeConflict, "contract %s is %s: it takes no more promises", h, state)
	}
	if round != cur {
		return &Error{Code: CodeConflict, Field: "round", Message: fmt.Sprintf("your party is in round %d, not %d", cur, round)}
	}
	if err := p.VerifyPromise(r.Party, round, sig); err != nil {
		return &Error{Code: CodeInvalid, Field: "sig", Message: err.Error()}
	}
	if err := s.storeOwn(ctx, tx, p, r.Party, round, sig, s.cfg.Now()); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("contracts: promise: %w", err)
	}
	s.Wake()
	return nil
}

// MemberResolve stores username's own signature of their party's resolve
// request (own key); the worker then asks T.
func (s *Service) MemberResolve(ctx context.Context, username, h, sig string) error {
	p, r, err := s.memberRow(ctx, username, h)
	if err != nil {
		return err
	}
	if r.State != StateResolving || r.Level == nil {
		return refuse(CodeConflict, "contract %s is %s: there is no resolve request to sign", h, r.State)
	}
	if err := p.VerifyResolve(r.Party, *r.Level, sig); err != nil {
		return &Error{Code: CodeInvalid, Field: "sig", Message: err.Error()}
	}
	if _, err := s.pool.Exec(ctx, `UPDATE contracts SET resolve_sig = $3 WHERE h = $1 AND party = $2 AND state = 'resolving'`, h, r.Party, sig); err != nil {
		return fmt.Errorf("contracts: resolve: %w", err)
	}
	s.Wake()
	return nil
}

// Cancel stops username's party of h: it resolves with T at once and sends
// nothing more. Only while signing.
func (s *Service) Cancel(ctx context.Context, username, h string) (View, error) {
	_, r, err := s.memberRow(ctx, username, h)
	if err != nil {
		return View{}, err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return View{}, fmt.Errorf("contracts: cancel: %w", err)
	}
	defer tx.Rollback(ctx)
	cur, err := scanRow(tx.QueryRow(ctx, `SELECT `+rowColumns+` FROM contracts WHERE h = $1 AND party = $2 FOR UPDATE`, h, r.Party))
	if err != nil {
		return View{}, fmt.Errorf("contracts: cancel: %w", err)
	}
	if cur.State != StateSigning {
		return View{}, refuse(CodeConflict, "contract %s is %s: it cannot be cancelled", h, cur.State)
	}
	if _, err := tx.Exec(ctx, `UPDATE contracts SET cancelled = true WHERE h = $1 AND party = $2`, h, r.Party); err != nil {
		return View{}, fmt.Errorf("contracts: cancel: %w", err)
	}
	if err := toResolving(ctx, tx, cur, "the member cancelled", s.cfg.Now()); err != nil {
		return View{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return View{}, fmt.Errorf("contracts: cancel: %w", err)
	}
	s.Wake()
	return s.Get(ctx, username, false, h)
}

// Bundle is contract h with the proofs this server holds, in the shape
// 'sxp contract verify' reads: M[n+1] when held, T's token when it has one.
func (s *Service) Bundle(ctx context.Context, username string, admin bool, h string) (contract.Bundle, error) {
	r, err := s.findRow(ctx, username, admin, h)
	if err != nil {
		return contract.Bundle{}, err
	}
	b := contract.Bundle{Contract: r.Raw}
	// The resolved token of any local party proves it signed for all.
	var decision, token string
	err = s.pool.QueryRow(ctx, `SELECT decision, token FROM contracts WHERE h = $1 AND token IS NOT NULL
		ORDER BY decision = 'resolved' DESC, party LIMIT 1`, h).Scan(&decision, &token)
	if err == nil {
		b.Token = &contract.Answer{Decision: decision, Token: token}
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return contract.Bundle{}, fmt.Errorf("contracts: bundle: %w", err)
	}
	have, err := heldPool(ctx, s, h, r.Parties+1)
	if err != nil {
		return contract.Bundle{}, err
	}
	if len(have) == r.Parties {
		for j := range r.Parties {
			b.Promises = append(b.Promises, have[j])
		}
	}
	return b, nil
}
