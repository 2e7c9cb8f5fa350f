package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every job's counters exist from start, at zero.
func TestMetricsFromStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, Options{Seed: 1}, Job{Name: "a", Every: time.Hour}, Job{Name: "off"})
	want := `
# HELP sxp_job_runs_total Runs of each background job, by result (ok or error; each retry counts).
# TYPE sxp_job_runs_total counter
sxp_job_runs_total{name="a",result="error"} 0
sxp_job_runs_total{name="a",result="ok"} 0
sxp_job_runs_total{name="off",result="error"} 0
sxp_job_runs_total{name="off",result="ok"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sxp_job_runs_total"); err != nil {
		t.Fatal(err)
	}
}

// A failing run is retried at most Retries times; each try is counted.
func TestRetriesBounded(t *testing.T) {
	tests := []struct {
		name     string
		failures int // the job fails this many times, then succeeds
		retries  int
		wantOK   bool
		wantRuns int
		wantErrs float64
	}{
		{"succeeds at once", 0, 2, true, 1, 0},
		{"succeeds on the last retry", 2, 2, true, 3, 2},
		{"gives up after the retries", 5, 2, false, 3, 3},
		{"no retries", 1, 0, false, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs := 0
			r := New(nil, Options{Seed: 1}, Job{Name: "j", Every: time.Hour, Retries: tt.retries, Backoff: time.Microsecond,
				Run: func(ctx context.Context) (int64, error) {
					runs++
					if runs <= tt.failures {
						return 0, errors.New("down")
					}
					return 1, nil
				}})
			ok, err := r.RunOnce(context.Background(), "j")
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || runs != tt.wantRuns {
				t.Fatalf("got ok %v after %d runs, want %v after %d", ok, runs, tt.wantOK, tt.wantRuns)
			}
			if got := testutil.ToFloat64(r.runs.WithLabelValues("j", "error")); got != tt.wantErrs {
				t.Fatalf("error runs: got %v, want %v", got, tt.wantErrs)
			}
			wantOK := 0.0
			if tt.wantOK {
				wantOK = 1
			}
			if got := testutil.ToFloat64(r.runs.WithLabelValues("j", "ok")); got != wantOK {
				t.Fatalf("ok runs: got %v, want %v", got, wantOK)
			}
		})
	}
	if _, err := New(nil, Options{}).RunOnce(context.Background(), "nope"); err == nil {
		t.Fatal("RunOnce of an unknown job: got no error")
	}
}

// Run runs each job again and again, never an off job, and returns when its
// context ends.
func TestRunStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	// three closes when the fourth run starts: the runs of a job follow
	// each other, so by then the first three have been counted (the third
	// run's own count may come after a cancel sent from inside it).
	three := make(chan struct{})
	runs := 0
	r := New(nil, Options{Seed: 7},
		Job{Name: "tick", Every: time.Millisecond, Jitter: time.Millisecond, Now: true, Run: func(ctx context.Context) (int64, error) {
			if runs++; runs == 4 {
				close(three)
			}
			return 0, nil
		}},
		Job{Name: "off", Run: func(ctx context.Context) (int64, error) { panic("an off job ran") }},
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	<-three
	cancel()
	<-done
	if got := testutil.ToFloat64(r.runs.WithLabelValues("tick", "ok")); got < 3 {
		t.Fatalf("ok runs: got %v, want at least 3", got)
	}
	if got := r.Jobs(); len(got) != 2 || got[0] != "tick" || got[1] != "off" {
		t.Fatalf("jobs: got %q", got)
	}
}
