package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sxp-network/sxp/ledger"
)

// Run delivers the outbox to every active peer and pulls their events until
// ctx ends. Each active peer has its own goroutine, so a slow, failing or
// dead peer never delays the others. Run also publishes expiries (Sweep),
// prunes nonces and refreshes peers' keys.
func (s *Service) Run(ctx context.Context) {
	if peers, err := s.Peers(ctx); err == nil {
		for _, p := range peers {
			s.metrics.init(p.BaseURL)
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.listen(ctx)
	}()
	type loop struct {
		stop context.CancelFunc
		done chan struct{}
	}
	running := map[string]loop{}
	defer func() {
		for _, l := range running {
			l.stop()
		}
	}()
	d := s.cfg.Delivery
	sweep := time.NewTicker(d.Sweep)
	defer sweep.Stop()
	check := time.NewTicker(d.Poll)
	defer check.Stop()
	wake, unsubscribe := s.wake.subscribe()
	defer unsubscribe()
	s.sweep(ctx)
	for {
		// Start a loop for every active peer without one (or whose loop
		// ended); stop the loops of peers that are no longer active.
		peers, err := s.Peers(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("federation: listing peers", "err", err)
		}
		if err == nil {
			active := map[string]bool{}
			for _, p := range peers {
				if p.State != StateActive {
					continue
				}
				active[p.BaseURL] = true
				if l, ok := running[p.BaseURL]; ok {
					select {
					case <-l.done:
						l.stop() // it ended (the peer was briefly inactive): start anew
					default:
						continue // still running
					}
				}
				s.metrics.init(p.BaseURL)
				pctx, stop := context.WithCancel(ctx)
				l := loop{stop: stop, done: make(chan struct{})}
				running[p.BaseURL] = l
				wg.Add(1)
				go func(base string) {
					defer wg.Done()
					defer close(l.done)
					s.peerLoop(pctx, base)
				}(p.BaseURL)
			}
			for base, l := range running {
				if !active[base] {
					l.stop()
					delete(running, base)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-check.C:
		case <-wake:
		case <-sweep.C:
			s.sweep(ctx)
		}
	}
}

func (s *Service) sweep(ctx context.Context) {
	if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("federation: publishing expiries", "err", err)
	}
	if err := s.PruneNonces(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("federation: pruning nonces", "err", err)
	}
	if err := s.EnsureKey(ctx); err != nil && ctx.Err() == nil { // drops keys past their overlap
		s.log.Warn("federation: dropping retired keys", "err", err)
	}
}

// listen turns PostgreSQL notifications of new outbox events (sent on commit,
// from any process on the database) into wake-ups of the peer loops.
func (s *Service) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := func() error {
			// A connection of its own, not the pool's: it stays open listening.
			conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(ctx, `LISTEN federation_events`); err != nil {
				return err
			}
			for {
				if _, err := conn.WaitForNotification(ctx); err != nil {
					return err
				}
				s.wake.notify()
			}
		}()
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("federation: listening for outbox events", "err", err)
		sleep(ctx, 5*time.Second)
	}
}

// peerLoop delivers to and pulls from one active peer until ctx ends or the
// peer is no longer active.
func (s *Service) peerLoop(ctx context.Context, base string) {
	d := s.cfg.Delivery
	wake, unsubscribe := s.wake.subscribe()
	defer unsubscribe()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(len(base))))
	nextPull := time.Time{} // pull at once on start: catch up after being down
	nextKeys := s.now().Add(d.KeyRefresh)
	for ctx.Err() == nil {
		p, err := s.Peer(ctx, base)
		var gone *Error
		if errors.As(err, &gone) || err == nil && p.State != StateActive {
			return // removed or no longer active
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("federation: reading a peer", "peer", base, "err", err)
			}
			sleep(ctx, d.Poll)
			continue
		}
		now := s.now()
		if p.PausedUntil != nil && now.Before(*p.PausedUntil) {
			sleep(ctx, p.PausedUntil.Sub(now))
			continue
		}
		if !now.Before(nextPull) {
			if err := s.Pull(ctx, p); err != nil && ctx.Err() == nil {
				s.log.Warn("federation: pulling events", "peer", base, "err", err)
				nextPull = now.Add(d.RetryMax)
			} else {
				nextPull = now.Add(d.PullInterval)
			}
		}
		if !now.Before(nextKeys) {
			if err := s.RefreshKeys(ctx, base); err != nil && ctx.Err() == nil {
				s.log.Warn("federation: refreshing keys", "peer", base, "err", err)
			}
			nextKeys = now.Add(d.KeyRefresh)
		}
		sent, err := s.deliver(ctx, p)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			delay := s.failed(ctx, p, err, rng)
			sleep(ctx, delay)
			continue
		}
		if sent > 0 {
			continue // more may wait
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-time.After(d.Poll):
		}
	}
}

// deliver sends one batch of the outbox after the peer's cursor: at most
// MaxBatchEvents events and MaxBatchBytes of body. It returns how many it sent.
func (s *Service) deliver(ctx context.Context, p Peer) (int, error) {
	list, err := s.eventsAfter(ctx, p.PushedSeq, MaxBatchEvents)
	if err != nil || len(list) == 0 {
		s.metrics.backlog(p.BaseURL, 0)
		return 0, err
	}
	body := []byte(`{"events":[`)
	n := 0
	var last int64
	for _, e := range list {
		if n > 0 && len(body)+len(e.encoded)+3 > MaxBatchBytes {
			break
		}
		if n > 0 {
			body = append(body, ',')
		}
		body = append(body, e.encoded...)
		last = e.seq
		n++
	}
	body = append(body, "]}"...)
	status, answer, err := s.call(ctx, http.MethodPost, p.BaseURL+"/federation/v1/inbox", body)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("inbox answered %d: %s", status, ledger.Truncate(string(answer), 200))
	}
	var res struct{ Applied, Ignored int }
	if err := json.Unmarshal(answer, &res); err != nil {
		return 0, fmt.Errorf("inbox answer: %w", err)
	}
	now := s.now()
	if _, err := s.pool.Exec(ctx, `UPDATE federation_peers SET pushed_seq = greatest(pushed_seq, $2), failures = 0,
		failing_since = NULL, paused_until = NULL, last_error = '', last_delivery_at = $3 WHERE id = $1`, p.ID, last, now); err != nil {
		return 0, fmt.Errorf("federation: delivery cursor: %w", err)
	}
	var backlog int64
	_ = s.pool.QueryRow(ctx, `SELECT count(*) FROM federation_events WHERE seq > $1`, last).Scan(&backlog)
	s.metrics.delivered(p.BaseURL, n, backlog)
	return n, nil
}

// failed records a failed delivery and returns how long to wait: exponential
// backoff from RetryBase with full jitter in its upper half, capped at
// RetryMax; after PauseAfter consecutive failures the peer is paused for PauseFor.
func (s *Service) failed(ctx context.Context, p Peer, cause error, rng *rand.Rand) time.Duration {
	failures := p.Failures + 1
	now := s.now()
	delay, pause := backoff(s.cfg.Delivery, failures, rng)
	var paused *time.Time
	if pause {
		t := now.Add(delay)
		paused = &t
		s.log.Warn("federation: pausing a failing peer", "peer", p.BaseURL, "failures", failures, "until", t)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE federation_peers SET failures = $2, failing_since = coalesce(failing_since, $3),
		paused_until = $4, last_error = $5 WHERE id = $1`, p.ID, failures, now, paused, ledger.Truncate(cause.Error(), 500)); err != nil && ctx.Err() == nil {
		s.log.Warn("federation: recording a failure", "peer", p.BaseURL, "err", err)
	}
	var backlog int64
	_ = s.pool.QueryRow(ctx, `SELECT count(*) FROM federation_events WHERE seq > $1`, p.PushedSeq).Scan(&backlog)
	s.metrics.failed(p.BaseURL, backlog)
	s.log.Info("federation: delivery failed", "peer", p.BaseURL, "failures", failures, "retry_in", delay, "err", cause)
	return delay
}

// backoff is the wait after the failures-th consecutive failed delivery:
// RetryBase doubled with each failure, capped at RetryMax, with jitter over
// its upper half; every PauseAfter-th failure pauses the peer for PauseFor.
func backoff(d Delivery, failures int, rng *rand.Rand) (delay time.Duration, pause bool) {
	if failures > 0 && failures%d.PauseAfter == 0 {
		return d.PauseFor, true
	}
	delay = d.RetryBase << min(max(failures-1, 0), 30)
	if delay > d.RetryMax || delay <= 0 {
		delay = d.RetryMax
	}
	return delay/2 + time.Duration(rng.Int64N(int64(delay/2)+1)), false
}

// Pull fetches the peer's events after the cursor we hold and applies them,
// page by page, until it has them all.
func (s *Service) Pull(ctx context.Context, p Peer) error {
	cursor := p.PulledCursor
	for range 10000 {
		target := p.BaseURL + "/federation/v1/events?limit=" + strconv.Itoa(MaxPullLimit)
		if cursor != "" {
			target += "&after=" + url.QueryEscape(cursor)
		}
		status, answer, err := s.call(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("events answered %d: %s", status, ledger.Truncate(string(answer), 200))
		}
		var page struct {
			Events []Event `json:"events"`
			Next   string  `json:"next"`
		}
		if err := json.Unmarshal(answer, &page); err != nil {
			return fmt.Errorf("events answer: %w", err)
		}
		if len(page.Events) > 0 {
			if _, _, err := s.Apply(ctx, p, page.Events); err != nil {
				return err
			}
		}
		if page.Next != "" && page.Next != cursor {
			if _, err := s.pool.Exec(ctx, `UPDATE federation_peers SET pulled_cursor = $2 WHERE id = $1`, p.ID, page.Next); err != nil {
				return fmt.Errorf("federation: pull cursor: %w", err)
			}
			cursor = page.Next
		}
		if len(page.Events) < MaxPullLimit {
			return nil
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// broadcaster wakes every subscriber; a wake-up that finds one busy is kept
// (one pending per subscriber), so none is lost and none piles up.
type broadcaster struct {
	mu   sync.Mutex
	subs map[chan struct{}]bool
}

func newBroadcaster() *broadcaster { return &broadcaster{subs: map[chan struct{}]bool{}} }

func (b *broadcaster) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	b.subs[ch] = true
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}
}

func (b *broadcaster) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
