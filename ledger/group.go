package ledger

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Group is group commit for whole transactions, as Committer is for
// transfers: it gathers the transactions that concurrent callers ask for
// during a short window (or until Max wait) and runs them one after the
// other in one database transaction, each inside its own savepoint, with
// one commit (one WAL flush) for all. Each caller's answer comes only
// after that commit.
//
// A transaction whose fn returns an error is rolled back to its savepoint
// alone: it wrote nothing, its caller gets the error, and the others go
// on, exactly as if it had run in a transaction of its own. When a
// transaction is refused by the database in a way that running again may
// cure (a deadlock, a serialization failure, a key a concurrent
// transaction committed), the whole batch runs again (InTx's bounded
// retries), so fn must be safe to run again, as for InTx. When the
// commit fails every caller gets the error: the outcome is unknown, as
// for InTx.
//
// Hot rows gain most: transactions that each lock the same account (an
// import/export account, two communities' virtual customers) otherwise
// queue on its lock for one commit each; here a batch holds it once for
// all. Batches run one at a time (Parallel 1 by default), so two batches
// never wait on each other's locks.
type Group struct {
	l            *Ledger
	g            *gatherer[*groupCall]
	ttl          time.Duration
	noSavepoints bool
}

type groupCall struct {
	fn   func(ctx context.Context, tx *Tx) error
	done chan error
}

// NewGroup starts a group on l; Close stops it. o.Parallel is 1 and o.Max
// 32 unless set; o.Eager starts a batch whenever a slot is free instead of
// waiting o.Window (a transaction's savepoints each take a subtransaction id,
// and PostgreSQL keeps only 64 of them in shared memory before every
// snapshot gets slower).
func (l *Ledger) NewGroup(o CommitterOptions) *Group {
	if o.Parallel <= 0 {
		o.Parallel = 1
	}
	if o.Max <= 0 {
		o.Max = 32
	}
	g := &Group{l: l, ttl: time.Minute, noSavepoints: o.NoSavepoints}
	g.g = newGatherer(o, g.run)
	return g
}

// InTx runs fn in the next batch's transaction, inside a savepoint, and
// returns fn's error (nil once the batch committed). fn must do all its
// database work through tx with the context it is given (the batch's,
// which no caller's cancellation ends), and may run again. Once queued, a
// call waits for its batch whatever ctx does, so that its caller always
// learns the outcome.
func (g *Group) InTx(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	cl := &groupCall{fn: fn, done: make(chan error, 1)}
	if err := g.g.add(ctx, cl); err != nil {
		return err
	}
	return <-cl.done
}

// Close stops gathering, waits for the batches running, and answers
// nothing more (later calls get ErrCommitterClosed).
func (g *Group) Close() { g.g.close() }

// run runs one batch.
func (g *Group) run(batch []*groupCall) {
	ctx, cancel := context.WithTimeout(context.Background(), g.ttl)
	defer cancel()
	results := make([]error, len(batch))
	err := g.l.InTx(ctx, func(tx *Tx) error {
		if len(batch) == 1 || g.noSavepoints {
			// No savepoint: a failing transaction fails the batch (alone,
			// it is its own; otherwise the batch is split below).
			for i, cl := range batch {
				if err := cl.fn(ctx, tx); err != nil {
					return err
				}
				results[i] = nil
			}
			return nil
		}
		for i, cl := range batch {
			// A savepoint of our own, never released (RELEASE would cost a
			// round trip and free nothing that the commit does not).
			if _, err := tx.tx.Exec(ctx, "SAVEPOINT sxp_group"); err != nil {
				return err
			}
			sub := &Tx{tx: tx.tx, now: tx.now}
			ferr := cl.fn(ctx, sub)
			if ferr != nil {
				if retryable(ferr) {
					return ferr // the whole batch runs again
				}
				if _, err := tx.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT sxp_group"); err != nil {
					return err
				}
				results[i] = ferr
				tx.seen.refusals = append(tx.seen.refusals, sub.seen.refusals...)
				if len(sub.seen.refusals) == 0 && CodeOf(ferr) != "" {
					tx.seen.refusals = append(tx.seen.refusals, CodeOf(ferr))
				}
				continue
			}
			results[i] = nil
			tx.seen.transfers = append(tx.seen.transfers, sub.seen.transfers...)
			tx.seen.refusals = append(tx.seen.refusals, sub.seen.refusals...)
			tx.seen.batches = append(tx.seen.batches, sub.seen.batches...)
		}
		return nil
	})
	var unknown *commitError
	if err != nil && len(batch) > 1 && !errors.As(err, &unknown) {
		// The batch could not run at all (without savepoints, one
		// failed; or one left the transaction unusable): run each half on
		// its own, down to the single transaction whose caller gets its
		// error, as from InTx.
		half := len(batch) / 2
		g.run(batch[:half])
		g.run(batch[half:])
		return
	}
	for i, cl := range batch {
		if err != nil {
			cl.done <- err
		} else {
			cl.done <- results[i]
		}
	}
}

// gatherer collects calls for a short window (or until max wait) and hands
// each batch to run, at most parallel batches at once. Committer and
// Group gather through it.
type gatherer[C any] struct {
	eager  bool
	window time.Duration
	max    int
	run    func([]C)
	in     chan C
	sem    chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

func newGatherer[C any](o CommitterOptions, run func([]C)) *gatherer[C] {
	if o.Window <= 0 {
		o.Window = time.Millisecond
	}
	if o.Max <= 0 {
		o.Max = 256
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	g := &gatherer[C]{eager: o.Eager, window: o.Window, max: o.Max, run: run, in: make(chan C),
		sem: make(chan struct{}, o.Parallel), stop: make(chan struct{})}
	g.wg.Add(1)
	go g.loop()
	return g
}

// add queues c for the next batch.
func (g *gatherer[C]) add(ctx context.Context, c C) error {
	select {
	case g.in <- c:
		return nil
	case <-g.stop:
		return ErrCommitterClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gatherer[C]) close() {
	g.once.Do(func() { close(g.stop) })
	g.wg.Wait()
}

func (g *gatherer[C]) loop() {
	defer g.wg.Done()
	for {
		var batch []C
		select {
		case first := <-g.in:
			batch = append(batch, first)
		case <-g.stop:
			return
		}
		if g.eager {
			// Gather until a slot is free (or Max wait).
			acquired := false
			for !acquired && len(batch) < g.max {
				select {
				case c := <-g.in:
					batch = append(batch, c)
				case g.sem <- struct{}{}:
					acquired = true
				}
			}
			if !acquired {
				g.sem <- struct{}{}
			}
		} else {
			timer := time.NewTimer(g.window)
		gather:
			for len(batch) < g.max {
				select {
				case c := <-g.in:
					batch = append(batch, c)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
			g.sem <- struct{}{}
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer func() { <-g.sem }()
			g.run(batch)
		}()
	}
}
