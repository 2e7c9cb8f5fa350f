package members

import (
	"context"
	"runtime"
	"time"
)

// hashGate bounds how many argon2 hashes run at once. Each takes 19 MiB
// and tens of milliseconds of a core, so unbounded, a burst of log-ins
// (also for unknown usernames, which cost a full hash too) takes the
// server's memory; bounded, the excess waits a moment and is then refused
// with CodeBusy.
type hashGate struct {
	slots chan struct{}
	wait  time.Duration
}

func newHashGate(max int, wait time.Duration) hashGate {
	if max <= 0 {
		max = runtime.GOMAXPROCS(0)
	}
	if wait <= 0 {
		wait = 2 * time.Second
	}
	return hashGate{slots: make(chan struct{}, max), wait: wait}
}

// busyRetryAfter is the Retry-After of a CodeBusy refusal.
const busyRetryAfter = time.Second

// enter takes a slot, waiting at most g.wait, and returns its release.
func (g hashGate) enter(ctx context.Context) (func(), error) {
	release := func() { <-g.slots }
	select {
	case g.slots <- struct{}{}:
		return release, nil
	default:
	}
	timer := time.NewTimer(g.wait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		return release, nil
	case <-timer.C:
		return nil, &Error{Code: CodeBusy, RetryAfter: busyRetryAfter,
			Message: "the server is busy checking other passwords; try again in a moment"}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hashPassword is HashPassword within the bound.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	release, err := s.hashing.enter(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(password)
}

// checkPassword is CheckPassword within the bound.
func (s *Service) checkPassword(ctx context.Context, encoded, password string) (bool, error) {
	release, err := s.hashing.enter(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return CheckPassword(encoded, password)
}
