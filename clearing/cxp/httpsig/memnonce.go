package httpsig

import (
	"context"
	"sync"
	"time"
)

// MemoryNonces is an in-memory NonceStore for one process (community servers, tests).
// Its zero value is ready to use. Entries are pruned once expired by Now (default time.Now).
type MemoryNonces struct {
	Now func() time.Time

	mu      sync.Mutex
	seen    map[nonceKey]time.Time
	inserts int
}

type nonceKey struct{ keyID, nonce string }

// Remember implements NonceStore.
func (m *MemoryNonces) Remember(ctx context.Context, keyID, nonce string, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[nonceKey]time.Time{}
	}
	k := nonceKey{keyID, nonce}
	if _, ok := m.seen[k]; ok {
		return false, nil
	}
	m.seen[k] = until
	m.inserts++
	if m.inserts >= 1024 {
		m.inserts = 0
		now := time.Now
		if m.Now != nil {
			now = m.Now
		}
		t := now()
		for k, u := range m.seen {
			if u.Before(t) {
				delete(m.seen, k)
			}
		}
	}
	return true, nil
}
