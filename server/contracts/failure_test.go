package contracts_test

// Conflicts: a server that stops, a party that cancels, a party that asks T
// to abort and goes on, a member who signs with their own key, forgeries.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/server/contracts"
)

// decision is T's decision on h and its requests counter.
func (w *world) decision(h string) (string, int) {
	w.t.Helper()
	var d string
	var n int
	if err := w.tPool.QueryRow(context.Background(), `SELECT decision, requests FROM clearing_arbiter_contracts WHERE hash = $1`, h).Scan(&d, &n); err != nil {
		w.t.Fatalf("T's row of %s: %v", h[:8], err)
	}
	return d, n
}

// askT posts a resolve request for party i (key of name) at level l with
// evidence, and returns T's status and decision.
func (w *world) askT(raw []byte, h string, i int, name string, l int, evidence []string) (int, string) {
	w.t.Helper()
	if evidence == nil {
		evidence = []string{}
	}
	body, _ := json.Marshal(map[string]any{"contract": json.RawMessage(raw), "party": i, "level": l, "evidence": evidence,
		"request": contract.Sign(keyOf(name), contract.ResolveMessage(h, l))})
	resp, err := http.Post(w.ttp.URL+"/arbiter/v1/resolve", "application/json", bytes.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Decision string `json:"decision"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Decision
}

// round is M[r] of the loop: alice, bob, carol.
func round(h string, r int) []string {
	var out []string
	for _, n := range []string{"alice", "bob", "carol"} {
		out = append(out, contract.Sign(keyOf(n), contract.PromiseMessage(h, r)))
	}
	return out
}

// A server that is down from the start: the others hold no M[1], time out
// (alice cancels first), resolve at level 0 and end aborted; nothing
// settles. The server comes back, never gets M[1], times out itself, asks
// T and agrees: aborted.
func TestStoppedBeforeRoundOneAborts(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	h, _ := w.loop("stopped-early", 60)
	oak := w.coms["oak"]
	oak.down = true
	w.run()
	if got := w.state("leaf", h, 0); got != contracts.StateSigning {
		t.Fatalf("alice: got %s, want signing (waiting for bob's round 1)", got)
	}
	v, err := w.coms["leaf"].svc.Cancel(ctx, "alice", h)
	if err != nil || v.State != contracts.StateResolving || v.Level == nil || *v.Level != 0 {
		t.Fatalf("alice cancels: got %+v %v, want resolving at level 0", v, err)
	}
	if _, err := w.coms["leaf"].svc.Cancel(ctx, "alice", h); err == nil {
		t.Error("alice cancelled twice")
	}
	w.run()
	w.clock.add(61 * time.Second)
	w.run()
	for _, p := range []int{0, 2} {
		if got := w.state("leaf", h, p); got != contracts.StateAborted {
			t.Errorf("leaf party %d: got %s, want aborted", p, got)
		}
	}
	if d, n := w.decision(h); d != contract.Aborted || n != 2 {
		t.Errorf("T: got %s after %d requests, want aborted after 2", d, n)
	}
	if n := w.count("leaf", `SELECT count(*) FROM contract_sends WHERE h = $1`, h); n != 0 {
		t.Errorf("leaf still has %d promises to send after resolving, want 0", n)
	}
	if n := w.count("leaf", `SELECT count(*) FROM deal_proposals WHERE h = $1 AND state = 'ended'`, h); n != 1 {
		t.Errorf("leaf's proposal not ended (offers not freed)")
	}

	oak.down = false
	w.run()
	if got := w.state("oak", h, 1); got != contracts.StateSigning {
		t.Fatalf("bob after the restart: got %s, want signing", got)
	}
	w.clock.add(61 * time.Second)
	w.run()
	if got := w.state("oak", h, 1); got != contracts.StateAborted {
		t.Errorf("bob: got %s, want aborted", got)
	}
	if d, n := w.decision(h); d != contract.Aborted || n != 3 {
		t.Errorf("T: got %s after %d requests, want aborted after 3", d, n)
	}
	if a, c := w.balance("leaf", "alice"), w.balance("leaf", "carol"); a != 0 || c != 0 {
		t.Errorf("balances: alice %d, carol %d; want 0, 0 (nothing settles)", a, c)
	}
	for _, com := range []string{"leaf", "oak"} {
		if n := w.count(com, `SELECT count(*) FROM contract_legs WHERE h = $1`, h); n != 0 {
			t.Errorf("%s opened %d legs of an aborted contract", com, n)
		}
	}
	b, _ := w.coms["oak"].svc.Bundle(ctx, "bob", false, h)
	raw, _ := json.Marshal(b)
	if v, err := contract.VerifyBundle(raw); err != nil || v.Signed {
		t.Errorf("bob's bundle: got %+v %v, want not signed", v, err)
	}
}

// A server that stops after round 2: the others hold M[2], time out in
// round 3 and ask T at level 2. design.md's rule answers that with
// resolved (none → l ≥ 1: resolved): the contract binds, the money leg is
// paid once, and the server, back, learns resolved from T (GET) and
// agrees.
func TestStoppedAfterRoundTwoResolves(t *testing.T) {
	w := newWorld(t)
	h, _ := w.loop("stopped-late", 60)
	w.cut, w.cutOff = 3, "oak"
	w.run()
	for _, p := range []struct {
		com   string
		party int
	}{{"leaf", 0}, {"oak", 1}, {"leaf", 2}} {
		var r int
		w.coms[p.com].pool.QueryRow(context.Background(), `SELECT round FROM contracts WHERE h = $1 AND party = $2`, h, p.party).Scan(&r)
		if r != 3 {
			t.Fatalf("%s party %d in round %d, want 3", p.com, p.party, r)
		}
	}
	oak := w.coms["oak"]
	oak.down = true
	w.clock.add(61 * time.Second)
	w.run()
	for _, p := range []int{0, 2} {
		if got := w.state("leaf", h, p); got != contracts.StateSigned {
			t.Errorf("leaf party %d: got %s, want signed (T resolved)", p, got)
		}
	}
	// alice asked; carol, after her, found T's resolved token with a GET.
	if d, n := w.decision(h); d != contract.Resolved || n != 1 {
		t.Errorf("T: got %s after %d requests, want resolved after 1", d, n)
	}
	if a, c := w.balance("leaf", "alice"), w.balance("leaf", "carol"); a != 2000 || c != -2000 {
		t.Errorf("balances: alice %d, carol %d; want 2000, -2000", a, c)
	}
	oak.down = false
	w.clock.add(time.Hour)
	w.run()
	if got := w.state("oak", h, 1); got != contracts.StateSigned {
		t.Errorf("bob back: got %s, want signed", got)
	}
	if _, n := w.decision(h); n != 1 {
		t.Errorf("T asked %d times, want 1 (bob learned it with a GET)", n)
	}
	if a := w.balance("leaf", "alice"); a != 2000 {
		t.Errorf("alice has %d, want 2000 (paid once)", a)
	}
	b, _ := w.coms["oak"].svc.Bundle(context.Background(), "bob", false, h)
	raw, _ := json.Marshal(b)
	if v, err := contract.VerifyBundle(raw); err != nil || !v.Signed || v.By[0] != "token" {
		t.Errorf("bob's bundle: got %+v %v, want signed by T's token", v, err)
	}
}

// Bob asks T to abort at level 0 and then goes on sending his promises of
// rounds 1 and 2. Alice and carol reach round 3, time out, and ask T at
// level 2 with M[2]: T sees bob went on after asking (seen 2 > asked 0 +
// 1), drops him from S and overturns: resolved. The money leg is paid once.
func TestAbortThenContinueIsOverturned(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	h, raw := w.loop("dishonest", 60)
	oak := w.coms["oak"]
	oak.down = true // the test speaks for bob's server
	if st, d := w.askT(raw, h, 1, "bob", 0, nil); st != 200 || d != contract.Aborted {
		t.Fatalf("bob asks to abort: got %d %s", st, d)
	}
	for r := 1; r <= 2; r++ {
		if _, err := w.coms["leaf"].svc.ReceivePromise(ctx, oak.base, h, 1, r, round(h, r)[1]); err != nil {
			t.Fatalf("bob's m[%d]: %v", r, err)
		}
	}
	w.run()
	w.clock.add(61 * time.Second)
	w.run()
	for _, p := range []int{0, 2} {
		if got := w.state("leaf", h, p); got != contracts.StateSigned {
			t.Errorf("leaf party %d: got %s, want signed (T overturned)", p, got)
		}
	}
	// bob's request, alice's (overturning); carol found the token with a GET.
	if d, n := w.decision(h); d != contract.Resolved || n != 2 {
		t.Errorf("T: got %s after %d requests, want resolved after 2", d, n)
	}
	if a, c := w.balance("leaf", "alice"), w.balance("leaf", "carol"); a != 2000 || c != -2000 {
		t.Errorf("balances: alice %d, carol %d; want 2000, -2000", a, c)
	}
}

// Carol holds her own key: the server waits for her promise of each round
// ({"round": r} in what it needs) and checks it.
func TestOwnKeyMemberSigns(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.keys.own["carol"] = true
	h, _ := w.loop("own-key", 60)
	leaf := w.coms["leaf"].svc
	for r := 1; r <= 4; r++ {
		w.run()
		v, err := leaf.Get(ctx, "carol", false, h)
		if err != nil {
			t.Fatal(err)
		}
		if v.Needs == nil || v.Needs.Round != r {
			t.Fatalf("round %d: carol's contract needs %+v, want round %d", r, v.Needs, r)
		}
		if err := leaf.MemberPromise(ctx, "carol", h, r+1, round(h, r+1)[2]); err == nil {
			t.Errorf("round %d: a promise of round %d taken", r, r+1)
		}
		if err := leaf.MemberPromise(ctx, "carol", h, r, round(h, r)[0]); err == nil {
			t.Errorf("round %d: alice's signature taken as carol's", r)
		}
		if err := leaf.MemberPromise(ctx, "carol", h, r, round(h, r)[2]); err != nil {
			t.Fatalf("round %d: carol's promise: %v", r, err)
		}
	}
	w.run()
	if got := w.state("leaf", h, 2); got != contracts.StateSigned {
		t.Errorf("carol: got %s, want signed", got)
	}
	if n := w.tRows(); n != 0 {
		t.Errorf("T asked about %d contracts, want 0", n)
	}
}

// Forgeries are refused and nothing is stored: a promise for another
// contract or round, from the wrong server, of an unknown contract; and a
// resolve request to T with forged evidence.
func TestForgeriesRefused(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	h, raw := w.loop("forgeries", 60)
	other, _ := w.loop("another", 60)
	leaf := w.coms["leaf"].svc
	oak := w.coms["oak"].base
	for _, tt := range []struct {
		name         string
		sender, h    string
		party, round int
		sig          string
		code         string
	}{
		{"a promise of another contract", oak, h, 1, 1, round(other, 1)[1], contracts.CodeInvalid},
		{"a promise of another round", oak, h, 1, 1, round(h, 2)[1], contracts.CodeInvalid},
		{"a round beyond n+1", oak, h, 1, 5, contract.Sign(keyOf("bob"), contract.PromiseMessage(h, 5)), contracts.CodeInvalid},
		{"round 0", oak, h, 1, 0, contract.Sign(keyOf("bob"), contract.PromiseMessage(h, 0)), contracts.CodeInvalid},
		{"another party's promise from oak", oak, h, 0, 1, round(h, 1)[0], contracts.CodeForbidden},
		{"bob's promise signed by alice", oak, h, 1, 1, round(h, 1)[0], contracts.CodeInvalid},
		{"an unknown contract", oak, "ab" + h[2:], 1, 1, round(h, 1)[1], contracts.CodeNotFound},
		{"no party 7", oak, h, 7, 1, round(h, 1)[1], contracts.CodeInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := leaf.ReceivePromise(ctx, tt.sender, tt.h, tt.party, tt.round, tt.sig)
			var ce *contracts.Error
			if !errorsAs(err, &ce) || ce.Code != tt.code {
				t.Errorf("got %v, want code %s", err, tt.code)
			}
		})
	}
	if n := w.count("leaf", `SELECT count(*) FROM contract_promises`); n != 0 {
		t.Errorf("leaf stored %d promises, want 0", n)
	}
	forged := round(h, 2)
	forged[1] = round(other, 2)[1]
	if st, _ := w.askT(raw, h, 0, "alice", 2, forged); st != 400 {
		t.Errorf("T given forged evidence: got %d, want 400", st)
	}
	if n := w.tRows(); n != 0 {
		t.Errorf("T recorded %d contracts, want 0", n)
	}
}

func errorsAs(err error, target **contracts.Error) bool { return errors.As(err, target) }
