package ledger

import (
	"context"
	"errors"
	"time"
)

// Committer is group commit: it gathers the transfers that concurrent
// callers ask for during a short window (or until Max are waiting) and
// commits them in one database transaction with Batch: the accounts are
// locked in ascending id order, each transfer is accepted or refused on
// its own against the running balances, each account is written once with
// its net change, the journal rows go in one statement, and one commit
// (one WAL flush) answers them all. Each caller gets its answer only after
// that commit. A refused transfer never fails the others; a batch that
// cannot run at all (a database error) is split in halves and each half
// retried, down to the single transfer, whose caller gets the error (a
// failed COMMIT, whose outcome is unknown, is never retried: every caller
// of that batch gets the error).
// Idempotency keys keep Transfer's meaning: a repeat, in the same batch or
// another, concurrent or later, gets the first answer (the key is claimed
// before any limit is checked). synchronous_commit is not touched.
//
// Hot accounts gain most: one-transfer transactions queue on the hot row's
// lock and pay a commit each; here a batch holds the lock once for all.
type Committer struct {
	l *Ledger
	g *gatherer[*call]
}

// CommitterOptions tune a Committer (and a Group); zero values take the defaults.
type CommitterOptions struct {
	Window   time.Duration // how long a batch gathers after its first transfer; 1 ms
	Max      int           // a batch commits as soon as this many wait; 256
	Parallel int           // batches committing at once (they never deadlock: ids are locked in order); 2
	// NoSavepoints (Group only): the transactions fail only when the
	// database does (a nonce's insert), so none gets a savepoint of its
	// own (a round trip less each); a batch that fails is split in halves
	// and each half run again, down to the one transaction whose caller
	// gets the error.
	NoSavepoints bool
	// Eager: no gathering window; a batch starts as soon as a slot is free
	// (Parallel), with whatever waits by then (at most Max). Idle, a
	// transaction commits at once; busy, the next batch fills while the
	// running ones commit.
	Eager bool
}

type call struct {
	req  TransferRequest
	done chan BatchResult
}

// ErrCommitterClosed answers transfers asked of a closed Committer.
var ErrCommitterClosed = errors.New("ledger: committer closed")

// NewCommitter starts a committer on l; Close stops it.
func (l *Ledger) NewCommitter(o CommitterOptions) *Committer {
	c := &Committer{l: l}
	c.g = newGatherer(o, c.commit)
	return c
}

// Transfer is Ledger.Transfer through the group commit: the same answer,
// after the commit of the batch it joined. When ctx ends first, the
// outcome is unknown to the caller (as with Ledger.Transfer); repeat with
// the same idempotency key to learn it.
func (c *Committer) Transfer(ctx context.Context, r TransferRequest) (Transfer, error) {
	if e := validateRequest(r); e != nil {
		return Transfer{}, e
	}
	cl := &call{req: r, done: make(chan BatchResult, 1)}
	if err := c.g.add(ctx, cl); err != nil {
		return Transfer{}, err
	}
	select {
	case res := <-cl.done:
		return res.Transfer, res.Err
	case <-ctx.Done():
		return Transfer{}, ctx.Err()
	}
}

// Close stops gathering, waits for the batches committing, and answers
// nothing more (later calls get ErrCommitterClosed).
func (c *Committer) Close() { c.g.close() }

// commit runs one batch; when it cannot run at all, it splits it.
func (c *Committer) commit(batch []*call) {
	items := make([]BatchItem, len(batch))
	for i, cl := range batch {
		items[i].TransferRequest = cl.req
	}
	// The batch belongs to many callers: none of their contexts may end it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	res, err := c.l.Batch(ctx, items)
	cancel()
	if err == nil {
		for i, cl := range batch {
			cl.done <- res[i]
		}
		return
	}
	var unknown *commitError
	if len(batch) == 1 || errors.As(err, &unknown) {
		// One transfer, or a commit whose outcome is unknown (running it
		// again could double a transfer without a key): each caller gets
		// the error, as from Ledger.Transfer.
		for _, cl := range batch {
			cl.done <- BatchResult{Err: err}
		}
		return
	}
	half := len(batch) / 2
	c.commit(batch[:half])
	c.commit(batch[half:])
}
