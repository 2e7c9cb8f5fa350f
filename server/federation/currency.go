package federation

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// currencyTTL is how long CurrencyOf reuses what a server said.
const currencyTTL = 10 * time.Minute

type currencyCache struct {
	mu    sync.Mutex
	byURL map[string]cachedCurrency
}

type cachedCurrency struct {
	code      string
	divisions int
	at        time.Time
}

// CurrencyOf is the currency code and decimal places another community
// server publishes in its /.well-known/sxp (public: no peering needed),
// cached for ten minutes. Payment quotes use it to name what a payee in
// another community receives.
func (s *Service) CurrencyOf(ctx context.Context, baseURL string) (string, int, error) {
	base, err := NormalizeURL(baseURL)
	if err != nil {
		return "", 0, fmt.Errorf("federation: currency of %q: %w", baseURL, err)
	}
	c := &s.currencies
	c.mu.Lock()
	got, ok := c.byURL[base]
	c.mu.Unlock()
	if ok && s.now().Sub(got.at) < currencyTTL {
		return got.code, got.divisions, nil
	}
	d, _, err := s.fetchDiscovery(ctx, base)
	if err != nil {
		return "", 0, fmt.Errorf("federation: currency of %s: %w", base, err)
	}
	c.mu.Lock()
	if c.byURL == nil {
		c.byURL = map[string]cachedCurrency{}
	}
	c.byURL[base] = cachedCurrency{code: d.Currency, divisions: d.Divisions, at: s.now()}
	c.mu.Unlock()
	return d.Currency, d.Divisions, nil
}
