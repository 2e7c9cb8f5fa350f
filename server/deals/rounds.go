package deals

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sxp-network/sxp/ledger"
)

// A round's phases, in order; it ends done or failed.
const (
	PhaseGather  = "gather"
	PhaseSolve   = "solve"
	PhasePropose = "propose"
	PhaseDone    = "done"
	PhaseFailed  = "failed"
)

// RoundStatus is a round as recorded: who started it, its phase, and its
// counts so far.
type RoundStatus struct {
	ID             int64
	By             string
	StartedAt      time.Time
	FinishedAt     *time.Time
	Phase          string
	MaxLoop        int
	MaxCommunities int
	WantLists      int
	Loops          int // loops the finder found
	Proposed       int // proposals stored so far
	Trades         int // items in them
	UnfundedOffers int
	UnfundedLoops  int
	Step           string // within the solve: the finder's phase and counts, e.g. "matching 1200/2000"
	Error          string
}

// Running reports whether the round is still going.
func (r RoundStatus) Running() bool { return r.FinishedAt == nil }

// roundLockKey is the PostgreSQL advisory lock held while a round runs
// (any process on the database: the server, 'sxp deals round').
const roundLockKey = 0x5850_0d_ea15

// lockRound takes the round lock on a connection of its own, held until
// unlock; a round already running gets CodeConflict.
func (s *Service) lockRound(ctx context.Context) (unlock func(), err error) {
	unlock, ok, err := ledger.TryLock(ctx, s.pool, roundLockKey)
	if err != nil {
		return nil, fmt.Errorf("deals: round lock: %w", err)
	}
	if !ok {
		return nil, &Error{Code: CodeConflict, Message: "a round is already running: wait for it to finish (the deals page shows its progress)"}
	}
	return unlock, nil
}

// startRound records a new round (phase gather). A round left unfinished
// by a process that stopped is marked failed first: the lock says none runs.
func (s *Service) startRound(ctx context.Context, opt Options) (RoundStatus, error) {
	now := s.cfg.Now().UTC()
	if _, err := s.pool.Exec(ctx, `UPDATE deal_rounds SET phase = 'failed', finished_at = $1,
		error = 'interrupted: the process running it stopped' WHERE finished_at IS NULL`, now); err != nil {
		return RoundStatus{}, fmt.Errorf("deals: round: %w", err)
	}
	st := RoundStatus{By: opt.By, StartedAt: now, Phase: PhaseGather, MaxLoop: opt.MaxLoop, MaxCommunities: opt.MaxCommunities}
	err := s.pool.QueryRow(ctx, `INSERT INTO deal_rounds (started_by, started_at, phase, max_loop, max_communities)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, st.By, st.StartedAt, st.Phase, st.MaxLoop, st.MaxCommunities).Scan(&st.ID)
	if err != nil {
		return RoundStatus{}, fmt.Errorf("deals: round: %w", err)
	}
	if opt.Progress != nil {
		opt.Progress(st)
	}
	return st, nil
}

// recordRound stores st (finished when its phase is done or failed) and
// tells opt.Progress.
func (s *Service) recordRound(ctx context.Context, st *RoundStatus, opt Options) error {
	if (st.Phase == PhaseDone || st.Phase == PhaseFailed) && st.FinishedAt == nil {
		t := s.cfg.Now().UTC()
		st.FinishedAt = &t
	}
	_, err := s.pool.Exec(ctx, `UPDATE deal_rounds SET phase = $2, finished_at = $3, wantlists = $4, loops = $5,
		proposed = $6, trades = $7, unfunded_offers = $8, unfunded_loops = $9, error = $10, step = $11 WHERE id = $1`,
		st.ID, st.Phase, st.FinishedAt, st.WantLists, st.Loops, st.Proposed, st.Trades, st.UnfundedOffers, st.UnfundedLoops, st.Error, st.Step)
	if err != nil {
		return fmt.Errorf("deals: round progress: %w", err)
	}
	if opt.Progress != nil {
		opt.Progress(*st)
	}
	return nil
}

// Rounds lists the last n rounds, newest first (the one running, if any, first).
func (s *Service) Rounds(ctx context.Context, n int) ([]RoundStatus, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, started_by, started_at, finished_at, phase, max_loop, max_communities,
		wantlists, loops, proposed, trades, unfunded_offers, unfunded_loops, error, step
		FROM deal_rounds ORDER BY started_at DESC, id DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("deals: rounds: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RoundStatus, error) {
		var st RoundStatus
		err := r.Scan(&st.ID, &st.By, &st.StartedAt, &st.FinishedAt, &st.Phase, &st.MaxLoop, &st.MaxCommunities,
			&st.WantLists, &st.Loops, &st.Proposed, &st.Trades, &st.UnfundedOffers, &st.UnfundedLoops, &st.Error, &st.Step)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("deals: rounds: %w", err)
	}
	return list, nil
}

// background runs rounds started by Start while Run runs.
type background struct {
	mu  sync.Mutex
	ctx context.Context // nil unless Run is running
	wg  sync.WaitGroup
}

// Run lets Start run rounds in the background until ctx ends, then waits
// for the round in progress (it stops at its next step).
func (s *Service) Run(ctx context.Context) {
	s.bg.mu.Lock()
	s.bg.ctx = ctx
	s.bg.mu.Unlock()
	<-ctx.Done()
	s.bg.mu.Lock()
	s.bg.ctx = nil
	s.bg.mu.Unlock()
	s.bg.wg.Wait()
}

// Start starts a round in the background (the admin page's button) and
// returns once it holds the round lock and has recorded the round (phase
// gather): a round already running gets CodeConflict. Its progress and end are in Rounds; a failure is logged.
func (s *Service) Start(opt Options) error {
	opt, err := checkOptions(opt)
	if err != nil {
		return err
	}
	s.bg.mu.Lock()
	defer s.bg.mu.Unlock()
	ctx := s.bg.ctx
	if ctx == nil {
		return &Error{Code: CodeConflict, Message: "rounds run in the background only while the server runs"}
	}
	unlock, err := s.lockRound(ctx)
	if err != nil {
		return err
	}
	st, err := s.startRound(ctx, opt)
	if err != nil {
		unlock()
		return err
	}
	s.bg.wg.Add(1)
	go func() {
		defer s.bg.wg.Done()
		defer unlock()
		if _, err := s.roundStarted(ctx, opt, st); err != nil && s.cfg.Logger != nil {
			s.cfg.Logger.Warn("deals: a round failed", "by", opt.By, "err", err)
		}
	}()
	return nil
}
