package deals

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
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
// a giver of this server must be a member whose live offer it is; it must
// be a valid sxp-contract/1, name the arbiter this server trusts, and give
// each party of this server that member's current contract key. A
// proposal received twice is stored once. It returns h.
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
	for i, l := range c.Legs {
		if l.From < 0 || l.From >= len(c.Parties) || l.To < 0 || l.To >= len(c.Parties) || l.From == l.To {
			return "", invalid("leg %d: from and to must be two parties", i)
		}
		giver := c.Parties[l.From]
		if !strings.HasPrefix(l.Offer, giver.Server+"/announcements/") {
			return "", invalid("leg %d: offer %q does not live on its giver's server %s", i, l.Offer, giver.Server)
		}
		if giver.Server != s.cfg.BaseURL {
			continue
		}
		user, ok := strings.CutSuffix(giver.Member, "@"+s.cfg.CommunityID)
		if !ok {
			return "", invalid("leg %d: giver %q is not a member of %s", i, giver.Member, s.cfg.CommunityID)
		}
		var live bool
		err := tx.QueryRow(ctx, `
			SELECT a.kind = 'offer' AND a.status = 'active' AND a.expires_at > $3
			  FROM announcements a JOIN members m ON m.id = a.member_id
			 WHERE a.origin = 'local' AND $1 || '/announcements/' || a.id = $2 AND m.username = $4`,
			s.cfg.BaseURL, l.Offer, now, user).Scan(&live)
		if err == pgx.ErrNoRows || (err == nil && !live) {
			return "", invalid("leg %d: %q is not a live offer of %s here", i, l.Offer, giver.Member)
		}
		if err != nil {
			return "", fmt.Errorf("deals: receive: %w", err)
		}
	}
	if _, err := contract.Parse(raw); err != nil {
		return "", invalid("%v", err)
	}
	if err := s.checkKeys(ctx, c, ttp); err != nil {
		return "", err
	}
	h, err := contract.HashOf(raw)
	if err != nil {
		return "", invalid("contract: %v", err)
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
