// Package jobs runs the periodic background work of both servers: named
// jobs, each on its own interval with jitter, a bounded number of retries
// with exponential backoff when a run fails, a log line for each failure
// and each run that did something, and the metric
//
//	sxp_job_runs_total{name,result}    runs of each job, result "ok" or "error"
//
// exported from start (zero for every job and result), so an idle server's
// /metrics lists it. The job's label is "name", not "job": Prometheus gives
// every scraped series its target's "job" label and would rename ours to
// "exported_job". A Runner stops when its context ends and waits for the
// run in progress.
//
// Every job here is a sweep over state that already sits in the database
// (pending intertrades, nonces, sessions, the circle's schedule): a run that
// is missed or cut short is redone by the next one, so a job needs no
// durable queue of its own. Work that must survive a restart item by item
// (federation delivery, contract deadlines) keeps its items in a table and
// is swept by a job of this package.
//
// Where it lives: the ledger/ tree is the base layer. Package ledger and
// its subpackages import no package of server/ or clearing/, so every
// package of the module may import them; a building block that both
// servers need and that knows no domain of either (money, jobs, HTTP
// metrics, charts) lives here, named for what it is.
package jobs

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Job is one named piece of periodic work.
type Job struct {
	// Name is the job's label value in metrics and logs: lowercase, stable.
	Name string
	// Every is the time from the end of one run to the start of the next.
	// A job with Every <= 0 is off (it is listed in metrics, never run).
	Every time.Duration
	// Jitter adds up to this much, drawn at random, to each wait, so that
	// servers started together do not call each other in step.
	Jitter time.Duration
	// Retries is how many times a failed run is retried before the job waits
	// for its next interval; the first retry waits Backoff, each next one
	// twice as long (never more than Every).
	Retries int
	Backoff time.Duration
	// Now, when true, runs the job once at start instead of after Every.
	Now bool
	// Run does the work. It returns how many items it handled (logged when
	// not zero) or an error (logged, counted, retried).
	Run func(ctx context.Context) (int64, error)
}

// Runner runs jobs until its context ends.
type Runner struct {
	log  *slog.Logger
	runs *prometheus.CounterVec
	jobs []Job

	mu  sync.Mutex
	rnd *rand.Rand
}

// Options configure a Runner. Zero values are fine.
type Options struct {
	Logger *slog.Logger
	// Seed seeds the jitter (tests give a fixed one; zero draws a random seed).
	Seed uint64
}

// New makes a runner of jobs and registers its metrics on reg (nil: none).
func New(reg prometheus.Registerer, opts Options, jobs ...Job) *Runner {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	r := &Runner{
		log: opts.Logger.With("area", "jobs"),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sxp_job_runs_total",
			Help: "Runs of each background job, by result (ok or error; each retry counts).",
		}, []string{"name", "result"}),
		rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	if reg != nil {
		reg.MustRegister(r.runs)
	}
	r.Add(jobs...)
	return r
}

// Add adds jobs; call it before Run.
func (r *Runner) Add(jobs ...Job) {
	for _, j := range jobs {
		r.runs.WithLabelValues(j.Name, "ok")
		r.runs.WithLabelValues(j.Name, "error")
		r.jobs = append(r.jobs, j)
	}
}

// Jobs lists the names of the jobs, in the order they were added.
func (r *Runner) Jobs() []string {
	names := make([]string, len(r.jobs))
	for i, j := range r.jobs {
		names[i] = j.Name
	}
	return names
}

// Run runs every job on its schedule until ctx ends, then waits for the
// runs in progress to return.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, j := range r.jobs {
		if j.Every <= 0 || j.Run == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, j)
		}()
	}
	wg.Wait()
}

// RunOnce runs the job named name once, with its retries, and reports
// whether it finally succeeded (for tests and admin commands).
func (r *Runner) RunOnce(ctx context.Context, name string) (bool, error) {
	for _, j := range r.jobs {
		if j.Name == name {
			return r.attempt(ctx, j), nil
		}
	}
	return false, &unknownJobError{name}
}

type unknownJobError struct{ name string }

func (e *unknownJobError) Error() string { return "jobs: no job named " + e.name }

func (r *Runner) loop(ctx context.Context, j Job) {
	if !j.Now && !sleep(ctx, r.wait(j)) {
		return
	}
	for {
		r.attempt(ctx, j)
		if !sleep(ctx, r.wait(j)) {
			return
		}
	}
}

// attempt runs j once, retrying a failure up to j.Retries times.
func (r *Runner) attempt(ctx context.Context, j Job) bool {
	backoff := j.Backoff
	for try := 0; ; try++ {
		n, err := j.Run(ctx)
		if ctx.Err() != nil {
			return false // stopping: a run cut short is neither ok nor an error
		}
		if err == nil {
			r.runs.WithLabelValues(j.Name, "ok").Inc()
			if n > 0 {
				r.log.Info("job done", "job", j.Name, "count", n)
			}
			return true
		}
		r.runs.WithLabelValues(j.Name, "error").Inc()
		if try >= j.Retries {
			r.log.Warn("job failed", "job", j.Name, "err", err, "tries", try+1)
			return false
		}
		r.log.Info("job failed, retrying", "job", j.Name, "err", err, "try", try+1, "backoff", backoff)
		if !sleep(ctx, backoff) {
			return false
		}
		if backoff *= 2; j.Every > 0 && backoff > j.Every {
			backoff = j.Every
		}
	}
}

func (r *Runner) wait(j Job) time.Duration {
	d := j.Every
	if j.Jitter > 0 {
		r.mu.Lock()
		d += time.Duration(r.rnd.Int64N(int64(j.Jitter)))
		r.mu.Unlock()
	}
	return d
}

// sleep waits d or until ctx ends, reporting whether the wait was complete.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
