package intertrade

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/ledger"
)

// relayNonces is the httpsig.NonceStore of the circle's relays: nonces are kept
// in PostgreSQL until their signature window ends, so a replayed relay is
// refused across restarts and across several processes of one community
// (as the clearing house keeps the communities' nonces).
type relayNonces struct {
	group *ledger.Group // nonces of concurrent relays share a commit
	now   func() time.Time
}

// Remember records nonce for keyID until the given time and reports whether
// it was fresh (not seen in an unexpired window).
func (n relayNonces) Remember(ctx context.Context, keyID, nonce string, until time.Time) (bool, error) {
	fresh := false
	err := n.group.InTx(ctx, func(ctx context.Context, tx *ledger.Tx) error {
		var one int
		err := tx.Conn().QueryRow(ctx, `INSERT INTO intertrade_nonces (key_id, nonce, until) VALUES ($1, $2, $3)
			ON CONFLICT ON CONSTRAINT intertrade_nonces_pkey DO UPDATE SET until = EXCLUDED.until
			WHERE intertrade_nonces.until < $4
			RETURNING 1`, keyID, nonce, until, n.now()).Scan(&one)
		fresh = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("intertrade: relay nonce: %w", err)
	}
	return fresh, nil
}

// PruneNonces deletes relay nonces whose window has ended.
func (s *Service) PruneNonces(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM intertrade_nonces WHERE until < $1`, s.now())
	if err != nil {
		return 0, fmt.Errorf("intertrade: prune relay nonces: %w", err)
	}
	return tag.RowsAffected(), nil
}
