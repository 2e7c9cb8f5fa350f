package deals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
)

// Answers a party gives a proposal.
const (
	Accept  = "accept"
	Decline = "decline"
)

// CodeNotFound: no such proposal for this member.
const CodeNotFound = "not_found"

// CodeConflict: the proposal has moved on (ended, or ready).
const CodeConflict = "conflict"

// Answer records member (user@community, a party of this server) accepting
// or declining proposal h, and tells every other party's server. A decline
// ends the proposal for everyone and frees its offers; when every party has
// accepted it is ready. States only move forward.
func (s *Service) Answer(ctx context.Context, username, h, answer string) (Proposal, error) {
	member := username + "@" + s.cfg.CommunityID
	p, err := s.record(ctx, s.cfg.BaseURL, h, []string{member}, answer)
	if err != nil {
		return Proposal{}, err
	}
	if _, err := s.Deliver(ctx); err != nil && s.cfg.Logger != nil {
		s.cfg.Logger.Warn("deals: telling an answer (retried later)", "h", h, "err", err)
	}
	return p, nil
}

// Told records the answer of members of peer sender to proposal h (POST
// /federation/v1/contracts/{h}/accept|decline).
func (s *Service) Told(ctx context.Context, sender, h string, members []string, answer string) (Proposal, error) {
	return s.record(ctx, sender, h, members, answer)
}

func (s *Service) record(ctx context.Context, server, h string, members []string, answer string) (Proposal, error) {
	if answer != Accept && answer != Decline {
		return Proposal{}, invalid("answer must be accept or decline")
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Proposal{}, fmt.Errorf("deals: answer: %w", err)
	}
	defer tx.Rollback(ctx)
	var p Proposal
	var body []byte
	err = tx.QueryRow(ctx, `SELECT h, contract, state, deadline FROM deal_proposals WHERE h = $1 FOR UPDATE`, h).
		Scan(&p.H, &body, &p.State, &p.Deadline)
	if errors.Is(err, pgx.ErrNoRows) {
		return Proposal{}, &Error{Code: CodeNotFound, Message: fmt.Sprintf("no proposal %s", h)}
	}
	if err != nil {
		return Proposal{}, fmt.Errorf("deals: answer: %w", err)
	}
	if err := json.Unmarshal(body, &p.Contract); err != nil {
		return Proposal{}, fmt.Errorf("deals: answer: %w", err)
	}
	for _, m := range members {
		if !isParty(p.Contract, m, server) {
			return Proposal{}, &Error{Code: CodeNotFound, Message: fmt.Sprintf("%s is not a party of proposal %s at %s", m, h, server)}
		}
	}
	if p.State == "proposed" && !p.Deadline.After(s.cfg.Now()) {
		p.State = "expired"
	}
	if p.State != "proposed" {
		if _, err := tx.Exec(ctx, `UPDATE deal_proposals SET state = $2 WHERE h = $1`, h, p.State); err != nil {
			return Proposal{}, fmt.Errorf("deals: answer: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return Proposal{}, fmt.Errorf("deals: answer: %w", err)
		}
		return p, &Error{Code: CodeConflict, Message: fmt.Sprintf("proposal %s is %s: it takes no more answers", h, p.State)}
	}
	for _, m := range members {
		if _, err := tx.Exec(ctx, `INSERT INTO deal_proposal_answers (h, member, answer) VALUES ($1, $2, $3)
			ON CONFLICT ON CONSTRAINT deal_proposal_answers_pkey DO NOTHING`, h, m, answer); err != nil {
			return Proposal{}, fmt.Errorf("deals: answer: %w", err)
		}
	}
	var accepted, declined int
	if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE answer = 'accept'), count(*) FILTER (WHERE answer = 'decline')
		FROM deal_proposal_answers WHERE h = $1`, h).Scan(&accepted, &declined); err != nil {
		return Proposal{}, fmt.Errorf("deals: answer: %w", err)
	}
	switch {
	case declined > 0:
		p.State = "ended"
	case accepted == len(p.Contract.Parties):
		p.State = "ready"
	}
	if _, err := tx.Exec(ctx, `UPDATE deal_proposals SET state = $2 WHERE h = $1`, h, p.State); err != nil {
		return Proposal{}, fmt.Errorf("deals: answer: %w", err)
	}
	if server == s.cfg.BaseURL { // a member here answered: tell the other parties' servers
		for _, m := range members {
			if err := s.enqueueAnswer(ctx, tx, p, m, answer); err != nil {
				return Proposal{}, err
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Proposal{}, fmt.Errorf("deals: answer: %w", err)
	}
	return p, nil
}

func isParty(c contract.Contract, member, server string) bool {
	for _, p := range c.Parties {
		if p.Member == member && p.Server == server {
			return true
		}
	}
	return false
}
