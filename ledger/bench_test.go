package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/migrations/pgtest"
)

// Run with: deploy/test -run '^$' -bench . -benchtime 2000x ./ledger
// deploy/test's cluster runs with fsync and synchronous_commit off, which
// flatters single transfers; with durable commits batching gains more.

const (
	benchAccounts = 1000
	benchBatch    = 100
)

// benchLedger returns a ledger with benchAccounts accounts of wide limits.
func benchLedger(b *testing.B, conns int32) (*Ledger, []AccountID) {
	b.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = conns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	l := New(pool, Options{})
	ids := make([]AccountID, benchAccounts)
	err = l.InTx(ctx, func(tx *Tx) error {
		for i := range ids {
			a, err := tx.CreateAccount(ctx, NewAccount{Code: fmt.Sprintf("bench-%04d", i), Currency: "EUR", Min: -1e12, Max: 1e12})
			if err != nil {
				return err
			}
			ids[i] = a.ID
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return l, ids
}

// benchRequest is the i-th transfer: between two random accounts, or, when
// hot, between a random account and the first one.
func benchRequest(rng *rand.Rand, ids []AccountID, i int64, hot bool) TransferRequest {
	d := rng.IntN(len(ids))
	c := (d + 1 + rng.IntN(len(ids)-1)) % len(ids)
	if hot {
		d, c = 0, 1+rng.IntN(len(ids)-1)
		if i%2 == 0 {
			d, c = c, d
		}
	}
	return TransferRequest{Debit: ids[d], Credit: ids[c], Amount: 1 + rng.Int64N(100),
		IdempotencyKey: fmt.Sprintf("bench-%d", i)}
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
}

// BenchmarkTransfer: single transfers, one database transaction each, one client.
func BenchmarkTransfer(b *testing.B) {
	l, ids := benchLedger(b, 4)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Transfer(ctx, benchRequest(rng, ids, int64(i), false)); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkBatch: the same transfers, benchBatch per database transaction, one client.
func BenchmarkBatch(b *testing.B) {
	l, ids := benchLedger(b, 4)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for i := 0; i < b.N; i += benchBatch {
		items := make([]BatchItem, min(benchBatch, b.N-i))
		for k := range items {
			items[k].TransferRequest = benchRequest(rng, ids, int64(i+k), false)
		}
		res, err := l.Batch(ctx, items)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	reportRate(b)
}

// BenchmarkTransferParallel: single transfers from 8 concurrent clients.
func BenchmarkTransferParallel(b *testing.B) { benchParallel(b, false) }

// BenchmarkTransferHot: as BenchmarkTransferParallel, but every transfer
// pays or is paid by one hot account, so they all queue on its row lock.
func BenchmarkTransferHot(b *testing.B) { benchParallel(b, true) }

func benchParallel(b *testing.B, hot bool) {
	const clients = 8
	l, ids := benchLedger(b, clients)
	ctx := context.Background()
	var next atomic.Int64
	var seed atomic.Uint64
	b.SetParallelism(max(1, clients/max(1, testingProcs())))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(3, seed.Add(1)))
		for pb.Next() {
			if _, err := l.Transfer(ctx, benchRequest(rng, ids, next.Add(1), hot)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
}

// BenchmarkBatchHot: the hot account's transfers in batches of benchBatch.
func BenchmarkBatchHot(b *testing.B) {
	l, ids := benchLedger(b, 4)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for i := 0; i < b.N; i += benchBatch {
		items := make([]BatchItem, min(benchBatch, b.N-i))
		for k := range items {
			items[k].TransferRequest = benchRequest(rng, ids, int64(i+k), true)
		}
		if _, err := l.Batch(ctx, items); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }

// BenchmarkCommitterParallel: BenchmarkTransferParallel's transfers (8
// clients) through the group commit: one transaction per transfer against
// one per batch.
func BenchmarkCommitterParallel(b *testing.B) { benchCommitter(b, 8, false) }

// BenchmarkCommitterHot: BenchmarkTransferHot (8 clients) through the group commit.
func BenchmarkCommitterHot(b *testing.B) { benchCommitter(b, 8, true) }

// BenchmarkCommitterHot64: the hot account from 64 clients, where batches fill.
func BenchmarkCommitterHot64(b *testing.B) { benchCommitter(b, 64, true) }

func benchCommitter(b *testing.B, clients int, hot bool) {
	l, ids := benchLedger(b, 8)
	c := l.NewCommitter(CommitterOptions{})
	defer c.Close()
	ctx := context.Background()
	var next atomic.Int64
	var seed atomic.Uint64
	b.SetParallelism(max(1, clients/max(1, testingProcs())))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(3, seed.Add(1)))
		for pb.Next() {
			if _, err := c.Transfer(ctx, benchRequest(rng, ids, next.Add(1), hot)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
}
