package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/clearing/httpapi"
)

// partyKey is party i's deterministic key (seed bytes i+1).
func partyKey(i int) ed25519.PrivateKey {
	seed := bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize)
	return ed25519.NewKeyFromSeed(seed)
}

// deal is one contract of n parties naming ttpKey as its arbiter.
type deal struct {
	raw []byte
	p   *contract.Parsed
}

func newDeal(t *testing.T, n int, ttpKey, nonce string) deal {
	t.Helper()
	var parties, legs []any
	for i := 0; i < n; i++ {
		parties = append(parties, map[string]any{"member": fmt.Sprintf("m%d@c%d", i, i),
			"server": fmt.Sprintf("https://c%d.example", i), "key": contract.EncodeKey(partyKey(i).Public().(ed25519.PublicKey))})
		var money any
		if i == 1 {
			money = map[string]any{"value": "20.00", "currency": "LEAF"}
		}
		legs = append(legs, map[string]any{"from": i, "to": (i + 1) % n, "offer": fmt.Sprintf("https://c%d.example/announcements/%d", i, i),
			"title": fmt.Sprintf("offer %d", i), "money": money})
	}
	raw, err := json.Marshal(map[string]any{
		"type": "sxp-contract/1", "id": "0b6e8c3a-1f2d-4e5a-9b7c-8d9e0f1a2b3c", "proposer": "https://c0.example",
		"created_at": "2026-11-29T20:00:00Z", "deadline": "2026-11-30T20:00:00Z", "round_timeout_s": 60, "nonce": nonce,
		"parties": parties, "legs": legs, "ttp": map[string]any{"url": "http://127.0.0.1", "key": ttpKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := contract.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return deal{raw: raw, p: p}
}

// round is M[r]: every party's promise of round r.
func (d deal) round(r int) []string {
	out := make([]string, d.p.N())
	for i := range out {
		out[i] = d.p.Promise(partyKey(i), r)
	}
	return out
}

// body is party i's resolve request at level l with evidence M[l].
func (d deal) body(i, l int) map[string]any {
	ev := []string{}
	if l > 0 {
		ev = d.round(l)
	}
	return map[string]any{"contract": json.RawMessage(d.raw), "party": i, "level": l, "evidence": ev,
		"request": contract.Sign(partyKey(i), contract.ResolveMessage(d.p.Hash(), l))}
}

// arbiterEnv is a clearing house (newEnv) and the arbiter's public key.
type arbiterEnv struct {
	*env
	key string
}

func newArbiterEnv(t *testing.T) arbiterEnv {
	e := newEnv(t)
	status, out := e.do(mustRequest(t, http.MethodGet, e.srv.URL+"/arbiter/v1/key", nil))
	if status != http.StatusOK {
		t.Fatalf("GET /arbiter/v1/key: got %d %v", status, out)
	}
	key := str(out, "key")
	if _, err := contract.DecodeKey(key); err != nil {
		t.Fatalf("key %q: %v", key, err)
	}
	return arbiterEnv{env: e, key: key}
}

// with is a for subtest t.
func (a arbiterEnv) with(t *testing.T) arbiterEnv {
	e := *a.env
	e.t = t
	return arbiterEnv{env: &e, key: a.key}
}

func mustRequest(t *testing.T, method, url string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func (a arbiterEnv) post(body any) (int, map[string]any) {
	a.t.Helper()
	raw, ok := body.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			a.t.Fatal(err)
		}
	}
	return a.do(mustRequest(a.t, http.MethodPost, a.srv.URL+"/arbiter/v1/resolve", raw))
}

// resolve posts party i's request at level l and checks that the answer's
// token is T's signature of its decision.
func (a arbiterEnv) resolve(d deal, i, l int) string {
	a.t.Helper()
	status, out := a.post(d.body(i, l))
	if status != http.StatusOK {
		a.t.Fatalf("resolve party %d level %d: got %d %v", i, l, status, out)
	}
	dec := str(out, "decision")
	if err := d.p.VerifyToken(dec, str(out, "token")); err != nil {
		a.t.Fatalf("token: %v", err)
	}
	return dec
}

// row is T's row of a contract, nil when there is none.
type row struct {
	Decision string
	Asked    []int
	Seen     []int
	S        []bool
	Requests int
}

func (a arbiterEnv) row(d deal) *row {
	a.t.Helper()
	var r row
	err := a.pool.QueryRow(context.Background(), `SELECT decision, asked, seen, in_s, requests FROM clearing_arbiter_contracts WHERE hash = $1`,
		d.p.Hash()).Scan(&r.Decision, &r.Asked, &r.Seen, &r.S, &r.Requests)
	if err != nil {
		if strings.Contains(err.Error(), "no rows") {
			return nil
		}
		a.t.Fatal(err)
	}
	return &r
}

func (a arbiterEnv) wantRow(d deal, want row) {
	a.t.Helper()
	got := a.row(d)
	if got == nil || !reflect.DeepEqual(*got, want) {
		a.t.Fatalf("got row %+v, want %+v", got, want)
	}
}

// counts is the number of T's rows and of its audit entries.
func (a arbiterEnv) counts() (rows, audits int) {
	a.t.Helper()
	ctx := context.Background()
	if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM clearing_arbiter_contracts`).Scan(&rows); err != nil {
		a.t.Fatal(err)
	}
	if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM clearing_audit WHERE action = 'arbiter.resolve'`).Scan(&audits); err != nil {
		a.t.Fatal(err)
	}
	return rows, audits
}

func TestArbiterRules(t *testing.T) {
	a := newArbiterEnv(t)
	const n = 3
	nonce := 0
	fresh := func() deal { nonce++; return newDeal(t, n, a.key, fmt.Sprint("nonce-", nonce)) }
	tests := []struct {
		name  string
		steps func(a arbiterEnv, t *testing.T, d deal)
	}{
		{"none, level 0: aborted, S = {i}", func(a arbiterEnv, t *testing.T, d deal) {
			if got := a.resolve(d, 0, 0); got != contract.Aborted {
				t.Fatalf("got %s, want aborted", got)
			}
			a.wantRow(d, row{"aborted", []int{0, -1, -1}, []int{0, 0, 0}, []bool{true, false, false}, 1})
		}},
		{"none, level >= 1: resolved", func(a arbiterEnv, t *testing.T, d deal) {
			if got := a.resolve(d, 1, 2); got != contract.Resolved {
				t.Fatalf("got %s, want resolved", got)
			}
			a.wantRow(d, row{"resolved", []int{-1, 2, -1}, []int{2, 2, 2}, []bool{false, false, false}, 1})
		}},
		{"resolved stays resolved, also at level 0", func(a arbiterEnv, t *testing.T, d deal) {
			a.resolve(d, 1, 1)
			if got := a.resolve(d, 2, 0); got != contract.Resolved {
				t.Fatalf("got %s, want resolved", got)
			}
			a.wantRow(d, row{"resolved", []int{-1, 1, 0}, []int{1, 1, 1}, []bool{false, false, false}, 2})
		}},
		{"aborted, S not empty: aborted and i joins S", func(a arbiterEnv, t *testing.T, d deal) {
			a.resolve(d, 0, 0)
			if got := a.resolve(d, 1, 1); got != contract.Aborted {
				t.Fatalf("got %s, want aborted", got)
			}
			// seen[0] = 1 is not > asked[0] + 1 = 1: party 0 stays in S.
			a.wantRow(d, row{"aborted", []int{0, 1, -1}, []int{1, 1, 1}, []bool{true, true, false}, 2})
			if got := a.resolve(d, 2, 0); got != contract.Aborted {
				t.Fatalf("got %s, want aborted", got)
			}
			a.wantRow(d, row{"aborted", []int{0, 1, 0}, []int{1, 1, 1}, []bool{true, true, true}, 3})
		}},
		{"overturn: the party that asked went on, S empties, level >= 1 resolves", func(a arbiterEnv, t *testing.T, d deal) {
			a.resolve(d, 0, 0) // party 0 asks to abort, then goes on promising
			if got := a.resolve(d, 1, 2); got != contract.Resolved {
				t.Fatalf("got %s, want resolved (seen[0] = 2 > asked[0] + 1 = 1)", got)
			}
			a.wantRow(d, row{"resolved", []int{0, 2, -1}, []int{2, 2, 2}, []bool{false, false, false}, 2})
			// Party 0's repeat now learns the overturned decision.
			if got := a.resolve(d, 0, 0); got != contract.Resolved {
				t.Fatalf("repeat: got %s, want resolved", got)
			}
		}},
		{"aborted, level 0 with S emptied: aborted, i not added when seen[i] > l + 1", func(a arbiterEnv, t *testing.T, d deal) {
			a.resolve(d, 0, 0)
			// Party 0 repeats with M[3]: nothing is decided, but T records what it saw.
			if got := a.resolve(d, 0, 3); got != contract.Aborted {
				t.Fatalf("repeat: got %s, want aborted", got)
			}
			a.wantRow(d, row{"aborted", []int{0, -1, -1}, []int{3, 3, 3}, []bool{true, false, false}, 2})
			// Party 1 asks at level 0: 0 is dropped (3 > 1); 1 has a promise of round 3 > 0 + 1, so it does not join S.
			if got := a.resolve(d, 1, 0); got != contract.Aborted {
				t.Fatalf("got %s, want aborted", got)
			}
			a.wantRow(d, row{"aborted", []int{0, 0, -1}, []int{3, 3, 3}, []bool{false, false, false}, 3})
			// S is empty: the next request at level >= 1 overturns.
			if got := a.resolve(d, 2, 1); got != contract.Resolved {
				t.Fatalf("got %s, want resolved", got)
			}
			a.wantRow(d, row{"resolved", []int{0, 0, 1}, []int{3, 3, 3}, []bool{false, false, false}, 4})
		}},
		{"aborted, level >= 1 with S empty after the drop: resolved", func(a arbiterEnv, t *testing.T, d deal) {
			a.resolve(d, 2, 0)
			a.resolve(d, 2, 3) // repeat showing M[3]: 2 went on after asking
			if got := a.resolve(d, 0, 1); got != contract.Resolved {
				t.Fatalf("got %s, want resolved", got)
			}
			a.wantRow(d, row{"resolved", []int{1, -1, 0}, []int{3, 3, 3}, []bool{false, false, false}, 3})
		}},
		{"repeat requests answer the current decision and change only seen", func(a arbiterEnv, t *testing.T, d deal) {
			a.resolve(d, 1, 0)
			for _, l := range []int{0, 1, 2} {
				if got := a.resolve(d, 1, l); got != contract.Aborted {
					t.Fatalf("repeat at %d: got %s, want aborted", l, got)
				}
			}
			a.wantRow(d, row{"aborted", []int{-1, 0, -1}, []int{2, 2, 2}, []bool{false, true, false}, 4})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := a.with(t)
			d := fresh()
			if a.row(d) != nil {
				t.Fatal("fresh contract has a row")
			}
			tt.steps(a, t, d)
		})
	}
}

// TestArbiterRefuses: every refusal is 400 (413 for size) and records
// nothing, on a contract T has no row for and on one it has.
func TestArbiterRefuses(t *testing.T) {
	a := newArbiterEnv(t)
	d := newDeal(t, 3, a.key, "refusals")
	known := newDeal(t, 3, a.key, "known")
	a.resolve(known, 0, 0)
	other := contract.EncodeKey(partyKey(9).Public().(ed25519.PublicKey))
	foreign := newDeal(t, 3, other, "foreign")
	otherDeal := newDeal(t, 3, a.key, "another contract")

	change := func(d deal, i, l int, f func(map[string]any)) map[string]any {
		b := d.body(i, l)
		f(b)
		return b
	}
	tests := []struct {
		name   string
		body   func(d deal) any
		status int
	}{
		{"contract names another T", func(deal) any { return foreign.body(0, 0) }, 400},
		{"request signed by another party", func(d deal) any {
			return change(d, 0, 1, func(b map[string]any) {
				b["request"] = contract.Sign(partyKey(1), contract.ResolveMessage(d.p.Hash(), 1))
			})
		}, 400},
		{"request signed for another level", func(d deal) any {
			return change(d, 0, 1, func(b map[string]any) {
				b["request"] = contract.Sign(partyKey(0), contract.ResolveMessage(d.p.Hash(), 2))
			})
		}, 400},
		{"request signed for another contract", func(d deal) any {
			return change(d, 0, 0, func(b map[string]any) {
				b["request"] = contract.Sign(partyKey(0), contract.ResolveMessage(otherDeal.p.Hash(), 0))
			})
		}, 400},
		{"request is a promise", func(d deal) any {
			return change(d, 0, 1, func(b map[string]any) { b["request"] = d.p.Promise(partyKey(0), 1) })
		}, 400},
		{"request missing", func(d deal) any { return change(d, 0, 0, func(b map[string]any) { delete(b, "request") }) }, 400},
		{"forged evidence: one promise by the wrong key", func(d deal) any {
			return change(d, 0, 2, func(b map[string]any) { b["evidence"].([]string)[1] = d.p.Promise(partyKey(2), 2) })
		}, 400},
		{"forged evidence: a promise of another round", func(d deal) any {
			return change(d, 0, 2, func(b map[string]any) { b["evidence"].([]string)[2] = d.p.Promise(partyKey(2), 3) })
		}, 400},
		{"forged evidence: promises of another contract", func(d deal) any {
			return change(d, 0, 2, func(b map[string]any) { b["evidence"] = otherDeal.round(2) })
		}, 400},
		{"evidence short of a promise", func(d deal) any {
			return change(d, 0, 2, func(b map[string]any) { b["evidence"] = d.round(2)[:2] })
		}, 400},
		{"evidence missing at level 1", func(d deal) any {
			return change(d, 0, 1, func(b map[string]any) { b["evidence"] = []string{} })
		}, 400},
		{"evidence at level 0", func(d deal) any {
			return change(d, 0, 0, func(b map[string]any) { b["evidence"] = d.round(1) })
		}, 400},
		{"level n+2", func(d deal) any {
			return change(d, 0, 5, func(b map[string]any) {
				b["request"] = contract.Sign(partyKey(0), contract.ResolveMessage(d.p.Hash(), 5))
				b["evidence"] = d.round(5)
			})
		}, 400},
		{"level -1", func(d deal) any {
			return change(d, 0, 0, func(b map[string]any) {
				b["level"] = -1
				b["request"] = contract.Sign(partyKey(0), contract.ResolveMessage(d.p.Hash(), -1))
			})
		}, 400},
		{"level missing", func(d deal) any { return change(d, 0, 0, func(b map[string]any) { delete(b, "level") }) }, 400},
		{"party n", func(d deal) any { return change(d, 0, 0, func(b map[string]any) { b["party"] = 3 }) }, 400},
		{"invalid contract", func(d deal) any {
			return change(d, 0, 0, func(b map[string]any) { b["contract"] = map[string]any{"type": "sxp-contract/1"} })
		}, 400},
		{"unknown field", func(d deal) any { return change(d, 0, 0, func(b map[string]any) { b["x"] = 1 }) }, 400},
		{"not JSON", func(deal) any { return []byte("{") }, 400},
		{"larger than the limit", func(deal) any { return []byte(`{"contract":"` + strings.Repeat("x", 600<<10) + `"}`) }, 413},
	}
	for _, target := range []struct {
		name string
		d    deal
	}{{"no row", d}, {"existing row", known}} {
		for _, tt := range tests {
			t.Run(target.name+"/"+tt.name, func(t *testing.T) {
				a := a.with(t)
				rows, audits := a.counts()
				before := a.row(target.d)
				status, out := a.post(tt.body(target.d))
				if status != tt.status {
					t.Fatalf("got %d %v, want %d", status, out, tt.status)
				}
				if e, _ := out["error"].(map[string]any); e == nil || e["message"] == "" {
					t.Fatalf("got %v, want an error body", out)
				}
				r, au := a.counts()
				if r != rows || au != audits || !reflect.DeepEqual(a.row(target.d), before) {
					t.Fatalf("recorded something: rows %d → %d, audit %d → %d", rows, r, audits, au)
				}
			})
		}
	}
}

func TestArbiterDecisionRoute(t *testing.T) {
	a := newArbiterEnv(t)
	d := newDeal(t, 2, a.key, "get")
	get := func(path string) (int, map[string]any) {
		return a.do(mustRequest(t, http.MethodGet, a.srv.URL+path, nil))
	}
	if status, out := get("/arbiter/v1/contracts/" + d.p.Hash()); status != http.StatusNotFound {
		t.Fatalf("before any request: got %d %v, want 404", status, out)
	}
	if status, _ := get("/arbiter/v1/contracts/" + strings.ToUpper(d.p.Hash())); status != http.StatusNotFound {
		t.Fatalf("upper-case hash: got %d, want 404", status)
	}
	a.resolve(d, 1, 0)
	status, out := get("/arbiter/v1/contracts/" + d.p.Hash())
	if status != http.StatusOK || str(out, "decision") != contract.Aborted || d.p.VerifyToken(contract.Aborted, str(out, "token")) != nil {
		t.Fatalf("got %d %v, want aborted with T's token", status, out)
	}
	a.resolve(d, 0, 3) // party 1 asked at 0, 0 shows M[3]: 1 is proven dishonest, S empties, resolved
	status, out = get("/arbiter/v1/contracts/" + d.p.Hash())
	if status != http.StatusOK || str(out, "decision") != contract.Resolved || d.p.VerifyToken(contract.Resolved, str(out, "token")) != nil {
		t.Fatalf("got %d %v, want resolved with T's token", status, out)
	}
	// The decision is in the audit log and on the admin page and API.
	var audits int
	if err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM clearing_audit WHERE action = 'arbiter.resolve' AND subject = $1`,
		d.p.Hash()).Scan(&audits); err != nil || audits != 2 {
		t.Fatalf("got %d audit entries (%v), want 2", audits, err)
	}
	status, out = a.admin(http.MethodGet, "/admin/api/arbiter/contracts/"+d.p.Hash(), nil)
	if status != http.StatusOK || str(out, "decision") != "resolved" || str(out, "requests") != "2" || str(out, "asked") != "[3,0]" {
		t.Fatalf("admin API: got %d %v", status, out)
	}
}

// TestArbiterRateLimit: a party key's requests beyond the burst are 429
// and record nothing; other keys are not affected; the bucket refills.
func TestArbiterRateLimit(t *testing.T) {
	a := newArbiterEnv(t)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	api := httpapi.New(a.house, httpapi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock,
		PublicURL: "http://127.0.0.1", ArbiterRate: 2, ArbiterBurst: 3})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	limited := arbiterEnv{env: &env{t: t, pool: a.pool, house: a.house, srv: srv}, key: a.key}
	d := newDeal(t, 2, a.key, "rate")
	for k := 0; k < 3; k++ {
		limited.resolve(d, 0, 0)
	}
	status, out := limited.post(d.body(0, 0))
	if status != http.StatusTooManyRequests {
		t.Fatalf("4th request: got %d %v, want 429", status, out)
	}
	if r := limited.row(d); r.Requests != 3 {
		t.Fatalf("got %d requests recorded, want 3", r.Requests)
	}
	limited.resolve(d, 1, 0) // another party key
	mu.Lock()
	now = now.Add(30 * time.Second) // one token back
	mu.Unlock()
	limited.resolve(d, 0, 0)
	if status, _ := limited.post(d.body(0, 0)); status != http.StatusTooManyRequests {
		t.Fatalf("got %d, want 429", status)
	}
}

// TestArbiterConcurrent: parties asking at once are serialised; every
// request is counted once and the state is one the rule reaches.
func TestArbiterConcurrent(t *testing.T) {
	a := newArbiterEnv(t)
	d := newDeal(t, 4, a.key, "concurrent")
	var wg sync.WaitGroup
	answers := make([]int, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], _ = a.post(d.body(i, 0))
		}()
	}
	wg.Wait()
	for i, s := range answers {
		if s != http.StatusOK {
			t.Fatalf("party %d: got %d", i, s)
		}
	}
	a.wantRow(d, row{"aborted", []int{0, 0, 0, 0}, []int{0, 0, 0, 0}, []bool{true, true, true, true}, 4})
}
