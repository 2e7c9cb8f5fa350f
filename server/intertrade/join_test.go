package intertrade

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// joinCircle is a fake clearing house for join requests: it verifies each
// request's signature against the key the request carried, remembers the
// X25519 key, and answers polls with whatever answer the test sets.
type joinCircle struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	pub     ed25519.PublicKey
	keyID   string
	boxKey  *[32]byte
	asked   cxp.JoinRequest
	answer  func(boxKey *[32]byte) cxp.JoinStatus
	refusal int // HTTP status to refuse the next request with (0: none)
}

func newJoinCircle(t *testing.T) *joinCircle {
	jc := &joinCircle{t: t}
	jc.srv = httptest.NewServer(http.HandlerFunc(jc.serve))
	t.Cleanup(jc.srv.Close)
	return jc
}

func (jc *joinCircle) serve(w http.ResponseWriter, r *http.Request) {
	jc.mu.Lock()
	defer jc.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	if jc.refusal != 0 {
		w.WriteHeader(jc.refusal)
		io.WriteString(w, `{"error":{"code":"conflict","message":"a community with id leaf is in the circle already"}}`)
		return
	}
	if r.Method == http.MethodPost {
		if err := json.Unmarshal(body, &jc.asked); err != nil {
			jc.t.Errorf("join request: %v", err)
		}
		pub, err := cxp.Key32(jc.asked.PublicKey)
		if err != nil {
			jc.t.Fatalf("public key: %v", err)
		}
		jc.pub, jc.keyID = ed25519.PublicKey(pub[:]), jc.asked.KeyID
		if jc.boxKey, err = cxp.Key32(jc.asked.BoxKey); err != nil {
			jc.t.Fatalf("box key: %v", err)
		}
	}
	v := httpsig.Verifier{PublicKeys: httpsig.StaticPublicKeys{jc.keyID: jc.pub}, Nonces: &httpsig.MemoryNonces{}, Label: cxp.JoinLabel}
	if _, err := v.Verify(r.Context(), r, body); err != nil {
		jc.t.Errorf("%s %s: signature: %v", r.Method, r.URL.Path, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	st := cxp.JoinStatus{Request: 7, State: cxp.JoinPending}
	if r.Method == http.MethodGet && jc.answer != nil {
		st = jc.answer(jc.boxKey)
	}
	json.NewEncoder(w).Encode(st)
}

func (jc *joinCircle) set(f func(jc *joinCircle)) {
	jc.mu.Lock()
	defer jc.mu.Unlock()
	f(jc)
}

// testKeys are a server's keys by keyid; current is the one Key returns
// (a test rotates by changing it).
type testKeys struct {
	mu      sync.Mutex
	current string
	keys    map[string]ed25519.PrivateKey
}

func (k *testKeys) rotate(t *testing.T, keyID string) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.current, k.keys[keyID] = keyID, priv
}

func newTestJoiner(t *testing.T, joined *[]cxp.JoinCredentials) (*Joiner, *testKeys) {
	t.Helper()
	keys := &testKeys{keys: map[string]ed25519.PrivateKey{}}
	keys.rotate(t, testPublic+"#k1")
	return NewJoiner(pgtest.NewPool(t), JoinConfig{CommunityID: "leaf", Name: "Leaf", Currency: testCurrency, Divisions: 2,
		PublicURL: testPublic}, JoinOptions{
		Key: func(context.Context) (string, ed25519.PublicKey, error) {
			keys.mu.Lock()
			defer keys.mu.Unlock()
			return keys.current, keys.keys[keys.current].Public().(ed25519.PublicKey), nil
		},
		Sign: func(_ context.Context, keyID string, req *http.Request, body []byte) error {
			keys.mu.Lock()
			priv := keys.keys[keyID]
			keys.mu.Unlock()
			return httpsig.Signer{KeyID: keyID, Alg: httpsig.AlgEd25519, Ed25519Key: priv, Label: cxp.JoinLabel}.Sign(req, body)
		},
		Seal: func(ad string, plain []byte) ([]byte, bool) { return append([]byte(ad+"|"), plain...), true },
		Open: func(ad string, b []byte, sealed bool) ([]byte, error) {
			return []byte(strings.TrimPrefix(string(b), ad+"|")), nil
		},
		OnJoined: func(_ context.Context, c cxp.JoinCredentials) error { *joined = append(*joined, c); return nil },
	}), keys
}

func sealedTo(t *testing.T, c cxp.JoinCredentials, boxKey *[32]byte) string {
	t.Helper()
	b, err := cxp.SealCredentials(c, boxKey)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// TestJoinerAskAndPoll: the request carries the community's details and
// keys, signed; a poll acts only on credentials that open with the
// request's key and name this community; a refusal is kept with its reason.
func TestJoinerAskAndPoll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	jc := newJoinCircle(t)
	var joined []cxp.JoinCredentials
	j, keys := newTestJoiner(t, &joined)

	for _, tc := range []struct{ url, rate, field string }{
		{"ftp://circle.example", "1", "circle_url"}, {jc.srv.URL, "0", "rate"}, {jc.srv.URL, "abc", "rate"},
	} {
		if _, err := j.Ask(ctx, tc.url, tc.rate, ""); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("ask %q at rate %q: got %v, want an error naming %s", tc.url, tc.rate, err, tc.field)
		}
	}
	// The circle refuses: nothing is kept, so the admin may ask again.
	jc.set(func(jc *joinCircle) { jc.refusal = http.StatusConflict })
	if _, err := j.Ask(ctx, jc.srv.URL, "1.5", "hi"); err == nil || !strings.Contains(err.Error(), "is in the circle already") {
		t.Errorf("refused by the circle: got %v, want its message", err)
	}
	if _, ok, _ := j.Latest(ctx); ok {
		t.Fatal("a request the circle refused at once is kept")
	}
	jc.set(func(jc *joinCircle) { jc.refusal = 0 })
	got, err := j.Ask(ctx, jc.srv.URL+"/", "1.50", "hi")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != JoinPending || got.Request != 7 || got.Ticks != "1.5" || got.CircleURL != jc.srv.URL {
		t.Errorf("after asking: got %+v", got)
	}
	if a := jc.asked; a.ID != "leaf" || a.Currency != testCurrency || a.BaseURL != testPublic || a.Rate != "1.5" || a.Message != "hi" {
		t.Errorf("the request sent: got %+v", a)
	}
	if _, err := j.Ask(ctx, jc.srv.URL, "1", ""); CodeOf(err) != ErrAlreadyAsked {
		t.Errorf("asking again while a request waits: got %v, want a conflict", err)
	}

	// The server's key rotates while it waits: its polls are still signed
	// by the key that asked (the fake circle checks that keyid).
	before, _, _ := j.Latest(ctx)
	keys.rotate(t, testPublic+"#k2")
	if after, _, _ := j.Latest(ctx); after.Fingerprint != before.Fingerprint || len(after.Fingerprint) != 16 {
		t.Errorf("the fingerprint shown after a rotation: got %q, want the asking key's %q", after.Fingerprint, before.Fingerprint)
	}
	// Still pending: nothing happens.
	if ok, err := j.Poll(ctx); ok || err != nil {
		t.Errorf("poll while pending: got %v %v", ok, err)
	}
	// Credentials sealed to another key, or for another community, are not taken.
	other, _, _ := cxp.NewBoxKey()
	good := cxp.JoinCredentials{CircleID: "valley", CircleURL: jc.srv.URL, CommunityID: "leaf", Key: "the-key", Ticks: "1.5"}
	for name, answer := range map[string]func(*[32]byte) cxp.JoinStatus{
		"sealed to another key": func(*[32]byte) cxp.JoinStatus {
			return cxp.JoinStatus{Request: 7, State: cxp.JoinApproved, Credentials: sealedTo(t, good, other)}
		},
		"for another community": func(k *[32]byte) cxp.JoinStatus {
			c := good
			c.CommunityID = "acorn"
			return cxp.JoinStatus{Request: 7, State: cxp.JoinApproved, Credentials: sealedTo(t, c, k)}
		},
		"not base64": func(*[32]byte) cxp.JoinStatus {
			return cxp.JoinStatus{Request: 7, State: cxp.JoinApproved, Credentials: "%%%"}
		},
	} {
		jc.set(func(jc *joinCircle) { jc.answer = answer })
		if ok, err := j.Poll(ctx); ok || err == nil {
			t.Errorf("%s: got joined %v, error %v; want an error", name, ok, err)
		}
		if l, _, _ := j.Latest(ctx); l.State != JoinPending {
			t.Errorf("%s: state %s, want pending", name, l.State)
		}
	}
	if len(joined) != 0 {
		t.Fatalf("OnJoined was told %v", joined)
	}

	// Approved: opened, stored, told once; a restart finds them.
	jc.set(func(jc *joinCircle) {
		jc.answer = func(k *[32]byte) cxp.JoinStatus {
			return cxp.JoinStatus{Request: 7, State: cxp.JoinApproved, Credentials: sealedTo(t, good, k)}
		}
	})
	if ok, err := j.Poll(ctx); !ok || err != nil {
		t.Fatalf("poll after the approval: got %v %v", ok, err)
	}
	if ok, err := j.Poll(ctx); ok || err != nil {
		t.Errorf("a second poll: got %v %v, want nothing to do", ok, err)
	}
	if len(joined) != 1 || joined[0].Key != "the-key" || joined[0].CircleID != "valley" || joined[0].Ticks != "1.5" {
		t.Errorf("OnJoined was told %+v", joined)
	}
	c, ok, err := j.Joined(ctx)
	if err != nil || !ok || c.Key != "the-key" || c.CircleURL != jc.srv.URL || c.CommunityID != "leaf" {
		t.Errorf("Joined: got %+v %v %v", c, ok, err)
	}
	var raw []byte
	if err := j.pool.QueryRow(ctx, `SELECT circle_key FROM circle_joins WHERE state = 'joined'`).Scan(&raw); err != nil || string(raw) != "circle-key:valley|the-key" {
		t.Errorf("the key at rest: %q (%v), want it sealed", raw, err)
	}
}

// TestJoinerRefused: a refusal is kept with its reason and the admin may ask again.
func TestJoinerRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	jc := newJoinCircle(t)
	var joined []cxp.JoinCredentials
	j, _ := newTestJoiner(t, &joined)
	if _, err := j.Ask(ctx, jc.srv.URL, "1", ""); err != nil {
		t.Fatal(err)
	}
	jc.set(func(jc *joinCircle) {
		jc.answer = func(*[32]byte) cxp.JoinStatus {
			return cxp.JoinStatus{Request: 7, State: cxp.JoinRefused, Reason: "not now"}
		}
	})
	if ok, err := j.Poll(ctx); ok || err != nil {
		t.Fatalf("poll: got %v %v", ok, err)
	}
	if l, _, _ := j.Latest(ctx); l.State != JoinRefused || l.Reason != "not now" {
		t.Errorf("after the refusal: got %+v", l)
	}
	if _, ok, _ := j.Joined(ctx); ok || len(joined) != 0 {
		t.Error("a refused request joined")
	}
	if _, err := j.Ask(ctx, jc.srv.URL, "1", "again"); err != nil {
		t.Errorf("asking again after a refusal: %v", err)
	}
}

// TestJoinerKeyGone: when the key that asked is gone (rotated out while the
// request waited), the request is given up locally so the admin can ask again.
func TestJoinerKeyGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	jc := newJoinCircle(t)
	var joined []cxp.JoinCredentials
	j, keys := newTestJoiner(t, &joined)
	if _, err := j.Ask(ctx, jc.srv.URL, "1", ""); err != nil {
		t.Fatal(err)
	}
	keys.rotate(t, testPublic+"#k2")
	keys.mu.Lock()
	delete(keys.keys, testPublic+"#k1")
	keys.mu.Unlock()
	if ok, err := j.Poll(ctx); ok || err != nil {
		t.Fatalf("poll with the asking key gone: got %v %v", ok, err)
	}
	if l, _, _ := j.Latest(ctx); l.State != JoinRefused || !strings.Contains(l.Reason, "key changed") {
		t.Errorf("after the key is gone: got %+v, want refused saying the key changed", l)
	}
	if _, err := j.Ask(ctx, jc.srv.URL, "1", "again"); err != nil {
		t.Errorf("asking again with the new key: %v", err)
	}
}
