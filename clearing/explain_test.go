package clearing

import (
	"testing"
	"time"

	"github.com/sxp-network/sxp/migrations/pgtest"
)

// TestPaymentPathUsesIndexes (issue 15): every query the clearing house
// runs for an intertrade (a signed call's caller and nonce, the try's
// checks, the hold, the post and its record, recovery's pick) on a table
// that grows with history finds its rows by an index. With sequential
// scans disabled the planner still picks one when no index fits, so a
// "Seq Scan" in the plan means a missing index.
func TestPaymentPathUsesIndexes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	queries := map[string]pgtest.Query{
		"community by id":  {`SELECT ` + communityColumns + ` FROM clearing_communities c WHERE c.id = $1`, []any{"a"}},
		"community by uri": {`SELECT ` + communityColumns + ` FROM clearing_communities c WHERE c.uri = $1`, []any{"http://a"}},
		"keys": {`SELECT sealed, retires_at FROM clearing_keys
			WHERE community_id = $1 AND (retires_at IS NULL OR retires_at > $2) ORDER BY id DESC`, []any{"a", now}},
		"nonce": {`INSERT INTO clearing_nonces (key_id, nonce, until) VALUES ($1, $2, $3)
			ON CONFLICT ON CONSTRAINT clearing_nonces_pkey DO UPDATE SET until = EXCLUDED.until
			WHERE clearing_nonces.until < $4 RETURNING 1`, []any{"a", "n", now, now}},
		"live by temp_id": {`SELECT ` + intertradeColumns + `, request_hash, response FROM clearing_intertrades
			WHERE src_community = $1 AND temp_id = $2 AND status IN ('pending', 'posted')`, []any{"a", "t"}},
		"ratio volume": {`SELECT coalesce(sum(quantity), 0)::bigint FROM clearing_volume_days
			WHERE community_id = $1 AND day >= $2::date`, []any{"a", "2025-11-29"}},
		"handshake count":   {`SELECT coalesce(sum(count), 0)::bigint FROM clearing_volume_days WHERE community_id = $1`, []any{"a"}},
		"hold's pending_id": {`UPDATE clearing_intertrades SET pending_id = $2 WHERE id = $1`, []any{int64(1), int64(1)}},
		"lock intertrade":   {`SELECT ` + intertradeColumns + `, response FROM clearing_intertrades WHERE id = $1 FOR UPDATE`, []any{int64(1)}},
		"keep pending":      {`SELECT asks FROM clearing_intertrades WHERE id = $1 AND status = 'pending' FOR UPDATE`, []any{int64(1)}},
		"post": {`UPDATE clearing_intertrades SET status = 'posted', transfer_id = $2, response = $3, resolved_at = $4,
			last_error = '' WHERE id = $1 RETURNING ` + intertradeColumns, []any{int64(1), int64(1), []byte(`{}`), now}},
		"recover": {`SELECT ` + intertradeColumns + `, request_hash FROM clearing_intertrades
			WHERE status = 'pending' AND coalesce(ask_after, created_at + make_interval(secs => $2)) <= $1
			ORDER BY id LIMIT 100`, []any{now, 20.0}},
		"ledger account": {`SELECT id FROM ledger_accounts WHERE id = $1 FOR UPDATE`, []any{int64(1)}},
		"ledger hold":    {`SELECT id FROM ledger_pending WHERE id = $1 FOR UPDATE`, []any{int64(1)}},
	}
	pgtest.UsesIndexes(t, pgtest.NewPool(t), queries)
}
