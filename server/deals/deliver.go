package deals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/ledger/jobs"
	"github.com/sxp-network/sxp/server/federation"
)

// Defaults of the delivery of proposals and answers.
const (
	DefaultRetryBase = 2 * time.Second
	DefaultRetryMax  = 5 * time.Minute
	// DeadlineSweep is how often proposals past their deadline are expired.
	DeadlineSweep = 30 * time.Second
	// maxDeliveries bounds the messages one Deliver pass reads.
	maxDeliveries = 1000
)

// Job names (sxp_job_runs_total{name}).
const (
	JobDeliveries = "deal_deliveries"
	JobDeadlines  = "deal_deadlines"
	JobRounds     = "deal_rounds"
)

// Jobs are the deals' background jobs: delivering proposals and answers
// (every RetryBase), expiring proposals past their deadline, and, when
// Config.RoundEvery is set, scheduled rounds (off otherwise: listed in
// metrics, never run).
func (s *Service) Jobs() []jobs.Job {
	return []jobs.Job{
		{Name: JobDeliveries, Every: s.cfg.RetryBase, Jitter: s.cfg.RetryBase / 4, Run: s.Deliver},
		{Name: JobDeadlines, Every: DeadlineSweep, Jitter: time.Second, Run: s.Expire},
		{Name: JobRounds, Every: s.cfg.RoundEvery, Jitter: s.cfg.RoundEvery / 20, Run: s.scheduledRound},
	}
}

// scheduledRound runs a round with the default caps; one already running
// (the admin's, or a command's) makes it skip this time.
func (s *Service) scheduledRound(ctx context.Context) (int64, error) {
	res, err := s.Round(ctx, Options{By: "schedule"})
	var de *Error
	if errors.As(err, &de) && de.Code == CodeConflict {
		return 0, nil
	}
	return int64(len(res.Proposals)), err
}

// enqueueProposal keeps, in tx, proposal p for the home server of every
// other party: Deliver sends it.
func (s *Service) enqueueProposal(ctx context.Context, tx pgx.Tx, p Proposal) error {
	if s.cfg.Send == nil {
		return nil
	}
	body, err := json.Marshal(map[string]any{"contract": p.Contract})
	if err != nil {
		return fmt.Errorf("deals: propose: %w", err)
	}
	return s.enqueue(ctx, tx, p, "proposal", "/federation/v1/contracts", body)
}

// enqueueAnswer keeps, in tx, member's answer to p for every other
// party's home server.
func (s *Service) enqueueAnswer(ctx context.Context, tx pgx.Tx, p Proposal, member, answer string) error {
	if s.cfg.Send == nil {
		return nil
	}
	body, err := json.Marshal(map[string]any{"members": []string{member}})
	if err != nil {
		return fmt.Errorf("deals: answer: %w", err)
	}
	return s.enqueue(ctx, tx, p, answer+" "+member, "/federation/v1/contracts/"+p.H+"/"+answer, body)
}

func (s *Service) enqueue(ctx context.Context, tx pgx.Tx, p Proposal, message, path string, body []byte) error {
	var servers []string
	seen := map[string]bool{s.cfg.BaseURL: true}
	for _, party := range p.Contract.Parties {
		if !seen[party.Server] {
			seen[party.Server] = true
			servers = append(servers, party.Server)
		}
	}
	if len(servers) == 0 {
		return nil
	}
	now := s.cfg.Now()
	_, err := tx.Exec(ctx, `INSERT INTO deal_deliveries (h, server, message, path, body, next_at, created_at)
		SELECT $1, unnest($2::text[]), $3, $4, $5, $6, $6
		ON CONFLICT ON CONSTRAINT deal_deliveries_message_key DO NOTHING`, p.H, servers, message, path, body, now)
	if err != nil {
		return fmt.Errorf("deals: keeping a message for %v: %w", servers, err)
	}
	return nil
}

// deliverLockKey is the PostgreSQL advisory lock a Deliver pass holds.
const deliverLockKey = 0x5850_0d_e11e

// delivery is a pending message.
type delivery struct {
	id       int64
	h        string
	server   string
	message  string
	path     string
	body     []byte
	attempts int
	due      bool // its time came, or its server was reached again since it last failed
	live     bool // its proposal's deadline has not passed
}

// Deliver sends the pending proposals and answers that are due, in order
// for each proposal and server: a message waits for the ones before it. A
// message is due at first, then after each failure with exponential
// backoff from RetryBase up to RetryMax, and at once when the federation
// outbox has delivered to its server since it last failed (the server is
// back: it catches up). A server that fails is not tried again in the
// same pass. A refusal (400, 404, 409, 410, 413, 422; not 403: peering
// may come back) is final, and a refused proposal ends here; a message
// whose proposal's deadline passed is dropped. It returns how many it delivered (the deal_deliveries job).
func (s *Service) Deliver(ctx context.Context) (int64, error) {
	if s.cfg.Send == nil {
		return 0, nil
	}
	// One pass at a time (the job, a round, an answer; any process on the
	// database): two would send a message twice. A pass that finds one
	// running leaves the work to it and to the next run of the job.
	unlock, mine, err := ledger.TryLock(ctx, s.pool, deliverLockKey)
	if err != nil {
		return 0, fmt.Errorf("deals: deliveries: %w", err)
	}
	if !mine {
		return 0, nil
	}
	defer unlock()
	now := s.cfg.Now()
	rows, err := s.pool.Query(ctx, `
		SELECT d.id, d.h, d.server, d.message, d.path, d.body, d.attempts,
		       d.next_at <= $1 OR coalesce(fp.last_delivery_at > d.last_try_at, false), p.deadline > $1
		  FROM deal_deliveries d JOIN deal_proposals p ON p.h = d.h
		  LEFT JOIN federation_peers fp ON fp.base_url = d.server
		 WHERE d.state = 'pending'
		 ORDER BY d.server, d.h, d.id LIMIT $2`, now, maxDeliveries)
	if err != nil {
		return 0, fmt.Errorf("deals: deliveries: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (delivery, error) {
		var d delivery
		err := r.Scan(&d.id, &d.h, &d.server, &d.message, &d.path, &d.body, &d.attempts, &d.due, &d.live)
		return d, err
	})
	if err != nil {
		return 0, fmt.Errorf("deals: deliveries: %w", err)
	}
	var delivered int64
	down := map[string]bool{}    // servers that failed in this pass
	waiting := map[string]bool{} // proposal@server pairs with an earlier message still pending
	for _, d := range list {
		pair := d.h + "@" + d.server
		if !d.live {
			if _, err := s.pool.Exec(ctx, `UPDATE deal_deliveries SET state = 'dropped' WHERE id = $1`, d.id); err != nil {
				return delivered, fmt.Errorf("deals: deliveries: %w", err)
			}
			continue
		}
		if down[d.server] || waiting[pair] || !d.due {
			waiting[pair] = true
			continue
		}
		err := s.cfg.Send(ctx, d.server+d.path, d.body)
		if ctx.Err() != nil {
			return delivered, ctx.Err()
		}
		now := s.cfg.Now()
		switch {
		case err == nil:
			_, err = s.pool.Exec(ctx, `UPDATE deal_deliveries SET state = 'delivered', attempts = attempts + 1,
				last_try_at = $2, delivered_at = $2, last_error = '' WHERE id = $1`, d.id, now)
			delivered++
		case federation.Refused(err):
			waiting[pair] = true
			if s.cfg.Logger != nil {
				s.cfg.Logger.Warn("deals: a server refused a message", "h", d.h, "server", d.server, "path", d.path, "err", err)
			}
			_, err = s.pool.Exec(ctx, `UPDATE deal_deliveries SET state = 'refused', attempts = attempts + 1,
				last_try_at = $2, last_error = $3 WHERE id = $1`, d.id, now, ledger.Truncate(err.Error(), 500))
			if err == nil && d.message == "proposal" {
				// A party's server refused the proposal: its members can never
				// accept it. It ends here, and its offers here are free again.
				_, err = s.pool.Exec(ctx, `UPDATE deal_proposals SET state = 'ended' WHERE h = $1 AND state = 'proposed'`, d.h)
			}
		default:
			down[d.server], waiting[pair] = true, true
			if s.cfg.Logger != nil {
				s.cfg.Logger.Info("deals: sending failed, will retry", "h", d.h, "server", d.server, "attempts", d.attempts+1, "err", err)
			}
			_, err = s.pool.Exec(ctx, `UPDATE deal_deliveries SET attempts = attempts + 1, last_try_at = $2,
				next_at = $3, last_error = $4 WHERE id = $1`, d.id, now, now.Add(federation.RetryAfter(s.cfg.RetryBase, s.cfg.RetryMax, d.attempts+1)), ledger.Truncate(err.Error(), 500))
		}
		if err != nil {
			return delivered, fmt.Errorf("deals: deliveries: %w", err)
		}
	}
	return delivered, nil
}

// Expire ends every proposal still proposed past its deadline (state
// expired; its offers are free again) and drops the messages about it not
// yet delivered (the deal_deadlines job). It returns how many it expired.
func (s *Service) Expire(ctx context.Context) (int64, error) {
	now := s.cfg.Now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("deals: expire: %w", err)
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `UPDATE deal_proposals SET state = 'expired' WHERE state = 'proposed' AND deadline <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("deals: expire: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE deal_deliveries d SET state = 'dropped' FROM deal_proposals p
		WHERE p.h = d.h AND d.state = 'pending' AND p.deadline <= $1`, now); err != nil {
		return 0, fmt.Errorf("deals: expire: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("deals: expire: %w", err)
	}
	return tag.RowsAffected(), nil
}
