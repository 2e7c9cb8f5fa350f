package intertrade

import (
	"testing"

	"github.com/sxp-network/sxp/migrations/pgtest"
)

// TestPaymentPathUsesIndexes (issue 15): every query an outgoing payment
// or a relay runs on a table that grows with history finds its rows by an
// index. With sequential scans disabled the planner still picks one when no
// index fits, so a "Seq Scan" in the plan means a missing index.
func TestPaymentPathUsesIndexes(t *testing.T) {
	t.Parallel()
	queries := map[string]pgtest.Query{
		"outByKey":          {`SELECT ` + intertradeColumns + ` FROM intertrades WHERE direction = 'out' AND local_account = $1 AND idempotency_key = $2`, []any{int64(1), "k"}},
		"inByTempID":        {`SELECT ` + intertradeColumns + ` FROM intertrades WHERE direction = 'in' AND src_url IN ($1, $1 || '/') AND temp_id = $2 ORDER BY id LIMIT 1 FOR UPDATE`, []any{"http://x", "t"}},
		"byID":              {`SELECT ` + intertradeColumns + ` FROM intertrades WHERE id = $1 FOR UPDATE`, []any{int64(1)}},
		"ledger key used":   {`SELECT EXISTS (SELECT 1 FROM ledger_idempotency WHERE key = $1)`, []any{"k"}},
		"ledger account":    {`SELECT id FROM ledger_accounts WHERE id = $1 FOR UPDATE`, []any{int64(1)}},
		"ledger hold":       {`SELECT id FROM ledger_pending WHERE id = $1 FOR UPDATE`, []any{int64(1)}},
		"session":           {`SELECT member_id, csrf_token, expires_at FROM member_sessions WHERE token_hash = $1 AND expires_at > now()`, []any{[]byte("h")}},
		"member by id":      {`SELECT id FROM members WHERE id = $1`, []any{int64(1)}},
		"member by account": {`SELECT id FROM members WHERE account_id = $1`, []any{int64(1)}},
		"prepare's totals": {`SELECT local_sum, base_sum::text,
			(SELECT coalesce(sum(volume), 0) FROM intertrade_volume_days WHERE day >= $1::date)::text
			FROM intertrade_totals WHERE one = true`, []any{"2025-11-29"}},
		"relay nonce": {`INSERT INTO intertrade_nonces (key_id, nonce, until) VALUES ($1, $2, now())
			ON CONFLICT ON CONSTRAINT intertrade_nonces_pkey DO UPDATE SET until = EXCLUDED.until
			WHERE intertrade_nonces.until < now() RETURNING 1`, []any{"c", "n"}},
	}
	pgtest.UsesIndexes(t, pgtest.NewPool(t), queries)
}
