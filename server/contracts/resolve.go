package contracts

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/ledger"
)

// resolveAll asks T for every resolving party. A party whose member holds
// their own key waits for the member's signature of the request. T's
// answer ends the party's run: resolved → signed, aborted → aborted (an
// honest party's own aborted answer is final for it). When T cannot be
// reached the party stays resolving and asks again at the next sweep.
func (s *Service) resolveAll(ctx context.Context) (int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+rowColumns+` FROM contracts WHERE state = 'resolving' ORDER BY h, party`)
	if err != nil {
		return 0, fmt.Errorf("contracts: resolve: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) { return scanRow(r) })
	if err != nil {
		return 0, fmt.Errorf("contracts: resolve: %w", err)
	}
	var n int64
	for _, r := range list {
		done, err := s.resolve(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			s.cfg.Logger.Warn("contracts: resolving with T failed; asking again later", "h", r.H, "party", r.Party, "err", err)
			s.note(ctx, r, "resolving with T: "+ledger.Truncate(err.Error(), 300))
			continue
		}
		if done {
			n++
		}
	}
	return n, nil
}

// resolveRequest is the body of POST {ttp}/arbiter/v1/resolve.
type resolveRequest struct {
	Contract json.RawMessage `json:"contract"`
	Party    int             `json:"party"`
	Level    int             `json:"level"`
	Evidence []string        `json:"evidence"`
	Request  string          `json:"request"`
}

func (s *Service) resolve(ctx context.Context, r row) (bool, error) {
	p, err := s.parse(r.H, r.Raw)
	if err != nil {
		return false, err
	}
	// A server that was down learns T's decision first: a resolved token
	// makes the contract signed whatever this server missed. An aborted
	// decision is not taken from there: it is not this party's own answer
	// (T may still overturn it), so the party asks T itself below.
	if ans, err := s.arbiter(ctx, p, http.MethodGet, "/arbiter/v1/contracts/"+r.H, nil); err == nil && ans.Decision == contract.Resolved {
		return true, s.decided(ctx, r, ans)
	}
	l := 0
	if r.Level != nil {
		l = *r.Level
	}
	var sig string
	if r.ResolveSig != nil {
		sig = *r.ResolveSig
	} else {
		b, err := s.cfg.Keys.Sign(ctx, r.Username, contract.ResolveMessage(r.H, l))
		if errors.Is(err, ErrOwnKey) {
			return false, nil // the member signs the request through the API
		}
		if err != nil {
			return false, err
		}
		sig = base64.StdEncoding.EncodeToString(b)
	}
	evidence := []string{}
	if l > 0 {
		have, err := heldPool(ctx, s, r.H, l)
		if err != nil {
			return false, err
		}
		for j := range p.N() {
			if have[j] == "" {
				return false, fmt.Errorf("evidence M[%d] lacks party %d's promise", l, j)
			}
			evidence = append(evidence, have[j])
		}
	}
	body, _ := json.Marshal(resolveRequest{Contract: p.Canonical(), Party: r.Party, Level: l, Evidence: evidence, Request: sig})
	ans, err := s.arbiter(ctx, p, http.MethodPost, "/arbiter/v1/resolve", body)
	if err != nil {
		return false, err
	}
	return true, s.decided(ctx, r, ans)
}

// decided records T's answer for party r: resolved makes it signed,
// aborted ends it aborted.
func (s *Service) decided(ctx context.Context, r row, ans contract.Answer) error {
	state, note := StateAborted, "T answered aborted: this party will not sign"
	if ans.Decision == contract.Resolved {
		state, note = StateSigned, "signed by T's resolved token"
	}
	tag, err := s.pool.Exec(ctx, `UPDATE contracts SET state = $3, decision = $4, token = $5, note = $6, updated_at = $7
		WHERE h = $1 AND party = $2 AND state IN ('signing', 'resolving')`,
		r.H, r.Party, state, ans.Decision, ans.Token, note, s.cfg.Now())
	if err != nil {
		return fmt.Errorf("contracts: record T's answer: %w", err)
	}
	if tag.RowsAffected() == 1 && state == StateAborted {
		// Nothing of it binds this server's party: its offers are free again.
		if _, err := s.pool.Exec(ctx, `UPDATE deal_proposals SET state = 'ended' WHERE h = $1 AND state = 'ready'`, r.H); err != nil {
			return fmt.Errorf("contracts: record T's answer: %w", err)
		}
	}
	return nil
}

var errNoDecision = errors.New("contracts: T has no decision")

// arbiter calls T at the contract's ttp.url and checks its token against
// the contract's ttp.key.
func (s *Service) arbiter(ctx context.Context, p *contract.Parsed, method, path string, body []byte) (contract.Answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(p.TTP.URL, "/")+path, rd)
	if err != nil {
		return contract.Answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	kind := "resolve"
	if method == http.MethodGet {
		kind = "decision"
	}
	ans, err := s.callArbiter(p, req, method)
	res := result(err)
	if errors.Is(err, errNoDecision) {
		res = "ok" // T answered: it has no decision
	}
	s.m.arbiter.WithLabelValues(kind, res).Inc()
	return ans, err
}

func (s *Service) callArbiter(p *contract.Parsed, req *http.Request, method string) (contract.Answer, error) {
	resp, err := s.cfg.HTTP.Do(req)
	if err != nil {
		return contract.Answer{}, fmt.Errorf("T: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusNotFound && method == http.MethodGet {
		return contract.Answer{}, errNoDecision
	}
	if resp.StatusCode != http.StatusOK {
		return contract.Answer{}, fmt.Errorf("T answered %d: %s", resp.StatusCode, ledger.Truncate(string(raw), 300))
	}
	var ans contract.Answer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return contract.Answer{}, fmt.Errorf("T's answer: %w", err)
	}
	if err := p.VerifyToken(ans.Decision, ans.Token); err != nil {
		return contract.Answer{}, fmt.Errorf("T's answer: %w", err)
	}
	return ans, nil
}

func (s *Service) note(ctx context.Context, r row, note string) {
	_, _ = s.pool.Exec(ctx, `UPDATE contracts SET note = $3 WHERE h = $1 AND party = $2 AND state = 'resolving'`, r.H, r.Party, note)
}

// heldPool is held outside a transaction.
func heldPool(ctx context.Context, s *Service, h string, r int) (map[int]string, error) {
	var out map[int]string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = held(ctx, tx, h, r)
		return err
	})
	return out, err
}

// ArbiterKey reads T's public key from GET {url}/arbiter/v1/key.
func ArbiterKey(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(url, "/")+"/arbiter/v1/key", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("T's key: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Key string `json:"key"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("T's key: %s answered %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&out); err != nil {
		return "", fmt.Errorf("T's key: %w", err)
	}
	if _, err := contract.DecodeKey(out.Key); err != nil {
		return "", fmt.Errorf("T's key: %w", err)
	}
	return out.Key, nil
}
