package deals

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/ledger/money"
)

// Error codes, safe to show to a client (the HTTP layer maps each).
const (
	CodeInvalid = "invalid" // a malformed or tampered proposal
)

// Codes lists every code, for the HTTP layer's table and its test.
func Codes() []string { return []string{CodeInvalid, CodeNotFound, CodeConflict} }

// Error is a refusal of this package.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "deals: " + e.Code + ": " + e.Message }

func invalid(format string, a ...any) *Error {
	return &Error{Code: CodeInvalid, Message: fmt.Sprintf(format, a...)}
}

// Receive stores a proposal sent by peer sender (POST
// /federation/v1/contracts): C must be proposed by the sender and name a
// party of this server; every leg's offer lives on its giver's server, and
// a giver of this server must be a member whose live offer it is, with
// that offer's money, which they can pay within their limits; the legs
// must be a loop (checkLoop); it must be a valid sxp-contract/1, name the
// arbiter this server trusts, and give each party of this server that
// member's current contract key. A proposal received twice is stored once.
// It returns h.
func (s *Service) Receive(ctx context.Context, sender string, raw json.RawMessage) (string, error) {
	var c contract.Contract
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", invalid("contract: %v", err)
	}
	if c.Type != "sxp-contract/1" {
		return "", invalid("contract: type must be sxp-contract/1")
	}
	if c.Proposer != sender {
		return "", invalid("contract: proposer %q is not the sender %q", c.Proposer, sender)
	}
	if len(c.Parties) < 2 || len(c.Legs) < 2 || len(c.Legs) > 100 {
		return "", invalid("contract: a loop has 2 to 100 legs between at least 2 parties")
	}
	ours := false
	for _, p := range c.Parties {
		ours = ours || p.Server == s.cfg.BaseURL
	}
	if !ours {
		return "", invalid("contract: no party of this server (%s)", s.cfg.BaseURL)
	}
	if err := checkLoop(c); err != nil {
		return "", err
	}
	ttp, err := s.ttp(ctx) // before the transaction: it may fetch the arbiter's key
	if err != nil {
		return "", err
	}
	now := s.cfg.Now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("deals: receive: %w", err)
	}
	defer tx.Rollback(ctx)
	h, err := contract.HashOf(raw)
	if err != nil {
		return "", invalid("contract: %v", err)
	}
	var stored bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM deal_proposals WHERE h = $1)`, h).Scan(&stored); err != nil {
		return "", fmt.Errorf("deals: receive: %w", err)
	}
	if stored {
		return h, nil // received before: stored once (its offers are held by it now)
	}
	pay := map[string]int64{} // what each giver here pays in this proposal (minor units)
	for i, l := range c.Legs {
		giver := c.Parties[l.From]
		if giver.Server != s.cfg.BaseURL {
			continue
		}
		user, ok := strings.CutSuffix(giver.Member, "@"+s.cfg.CommunityID)
		if !ok {
			return "", invalid("leg %d: giver %q is not a member of %s", i, giver.Member, s.cfg.CommunityID)
		}
		var live bool
		var amount *int64
		err := tx.QueryRow(ctx, `
			SELECT a.kind = 'offer' AND a.status = 'active' AND a.expires_at > $3, a.money
			  FROM announcements a JOIN members m ON m.id = a.member_id
			 WHERE a.origin = 'local' AND $1 || '/announcements/' || a.id = $2 AND m.username = $4`,
			s.cfg.BaseURL, l.Offer, now, user).Scan(&live, &amount)
		if err == pgx.ErrNoRows || (err == nil && !live) {
			return "", invalid("leg %d: %q is not a live offer of %s here", i, l.Offer, giver.Member)
		}
		if err != nil {
			return "", fmt.Errorf("deals: receive: %w", err)
		}
		var want *contract.Money
		if amount != nil {
			want = &contract.Money{Value: money.Format(*amount, s.cfg.Divisions), Currency: s.cfg.Currency}
			pay[user] += *amount
		}
		if (want == nil) != (l.Money == nil) || want != nil && *want != *l.Money {
			return "", invalid("leg %d: its money %s is not that of offer %q (%s)", i, moneyText(l.Money), l.Offer, moneyText(want))
		}
	}
	if _, err := contract.Parse(raw); err != nil {
		return "", invalid("%v", err)
	}
	if err := s.checkKeys(ctx, c, ttp); err != nil {
		return "", err
	}
	for user, amount := range pay {
		room, err := s.room(ctx, tx, user)
		if err != nil {
			return "", err
		}
		if amount > room {
			return "", invalid("%s@%s cannot pay %s within their limits (can pay %s now)", user, s.cfg.CommunityID,
				money.Format(amount, s.cfg.Divisions), money.Format(max(room, 0), s.cfg.Divisions))
		}
	}
	deadline, err := parseTime(c.Deadline)
	if err != nil {
		return "", invalid("contract: deadline: %v", err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO deal_proposals (h, contract, deadline, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT ON CONSTRAINT deal_proposals_pkey DO NOTHING`, h, []byte(raw), deadline, now)
	if err != nil {
		return "", fmt.Errorf("deals: receive: %w", err)
	}
	if tag.RowsAffected() == 1 {
		for _, l := range c.Legs {
			if _, err := tx.Exec(ctx, `INSERT INTO deal_proposal_offers (h, offer) VALUES ($1, $2) ON CONFLICT DO NOTHING`, h, l.Offer); err != nil {
				return "", fmt.Errorf("deals: receive: %w", err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("deals: receive: %w", err)
	}
	return h, nil
}

// MemberProposals lists the proposals naming member (user@community) as a
// party, newest first.
func (s *Service) MemberProposals(ctx context.Context, username string) ([]Proposal, error) {
	all, err := s.Proposals(ctx)
	if err != nil {
		return nil, err
	}
	me := username + "@" + s.cfg.CommunityID
	var out []Proposal
	for _, p := range all {
		for _, party := range p.Contract.Parties {
			if party.Member == me && party.Server == s.cfg.BaseURL {
				out = append(out, p)
				break
			}
		}
	}
	return out, nil
}

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }

// checkLoop checks that C's legs are a loop: each between two parties,
// its offer on its giver's server, no offer twice, and every party giving as many items as it receives (a leg
// redirected to another party breaks that).
func checkLoop(c contract.Contract) error {
	balance := make([]int, len(c.Parties))
	offers := map[string]int{}
	for i, l := range c.Legs {
		if l.From < 0 || l.From >= len(c.Parties) || l.To < 0 || l.To >= len(c.Parties) || l.From == l.To {
			return invalid("leg %d: from and to must be two parties", i)
		}
		if giver := c.Parties[l.From]; !strings.HasPrefix(l.Offer, giver.Server+"/announcements/") {
			return invalid("leg %d: offer %q does not live on its giver's server %s", i, l.Offer, giver.Server)
		}
		if j, ok := offers[l.Offer]; ok {
			return invalid("leg %d: offer %q is already given in leg %d", i, l.Offer, j)
		}
		offers[l.Offer] = i
		balance[l.From]++
		balance[l.To]--
	}
	for i, b := range balance {
		if b != 0 {
			return invalid("party %d (%s) gives %d items more than it receives: the legs are not a loop", i, c.Parties[i].Member, b)
		}
	}
	return nil
}

// room is what member username can pay now: their balance, less pending
// debits and the money of their offers held by live proposals, above
// their lower limit (minor units).
func (s *Service) room(ctx context.Context, tx pgx.Tx, username string) (int64, error) {
	var room int64
	err := tx.QueryRow(ctx, `
		SELECT acc.balance - acc.pending_debits - acc.min_balance - coalesce((
		         SELECT sum(a.money) FROM announcements a
		          WHERE a.member_id = m.id AND a.money IS NOT NULL AND EXISTS (
		                SELECT FROM deal_proposal_offers o JOIN deal_proposals p ON p.h = o.h
		                 WHERE o.offer = $2 || '/announcements/' || a.id AND p.state IN ('proposed', 'ready') AND p.deadline > $3)), 0)
		  FROM members m JOIN ledger_accounts acc ON acc.id = m.account_id
		 WHERE m.username = $1`, username, s.cfg.BaseURL, s.cfg.Now()).Scan(&room)
	if err != nil {
		return 0, fmt.Errorf("deals: receive: %w", err)
	}
	return room, nil
}

func moneyText(m *contract.Money) string {
	if m == nil {
		return "none"
	}
	return m.Value + " " + m.Currency
}
