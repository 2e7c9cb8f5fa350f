package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/migrations/pgtest"
	"github.com/sxp-network/sxp/server"
	"github.com/sxp-network/sxp/server/announce"
	"github.com/sxp-network/sxp/server/federation"
	"github.com/sxp-network/sxp/server/members"
)

// Fault modes of a node's HTTP edge.
const (
	faultNone int32 = iota
	fault500
	faultHang
	faultDown // the connection is closed without an answer
)

// node is a community server on its own database, served on a loopback
// port (its base URL), with its background jobs (federation delivery) running.
type node struct {
	t     *testing.T
	id    string
	base  string
	pool  *pgxpool.Pool
	srv   *server.Server
	fault atomic.Int32
	// hang is closed when the test ends, releasing hanging requests.
	hang chan struct{}
}

func newNode(t *testing.T, id string) *node {
	t.Helper()
	return newNodeWith(t, id, nil)
}

// newNodeWith is newNode with changed settings.
func newNodeWith(t *testing.T, id string, change func(*server.Config)) *node {
	t.Helper()
	url := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, id: id, base: "http://" + ln.Addr().String(), pool: pool, hang: make(chan struct{})}
	cfg := server.Config{
		DatabaseURL: url, Listen: ln.Addr().String(), CommunityID: id, CommunityName: strings.ToUpper(id[:1]) + id[1:] + " Valley",
		Currency: strings.ToUpper(id), CurrencyDivisions: 2, PublicURL: n.base, DefaultMin: "-100", DefaultMax: "1000",
		Registration: "open", FederationTimeout: time.Second, FederationRetry: 100 * time.Millisecond, FederationPull: time.Hour,
		ArbiterURL: testArbiterURL, ArbiterKey: testArbiterKey, // memberkeys_test.go
	}
	if change != nil {
		change(&cfg)
	}
	n.srv, err = server.New(context.Background(), cfg, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	inner := n.srv.Handler()
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.fault.Load() {
		case fault500:
			http.Error(w, `{"error":{"code":"internal","message":"injected"}}`, http.StatusInternalServerError)
			return
		case faultHang:
			select {
			case <-n.hang:
			case <-r.Context().Done():
			}
			return
		case faultDown:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
				}
			}
			return
		}
		inner.ServeHTTP(w, r)
	})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		hs.Serve(ln)
	}()
	jobs := make(chan struct{})
	go func() {
		defer close(jobs)
		n.srv.Federation.Run(ctx)
	}()
	t.Cleanup(func() {
		close(n.hang)
		cancel()
		hs.Close()
		<-done
		<-jobs
	})
	return n
}

// peer makes a and b active peers: each admin approves the other.
func peer(t *testing.T, a, b *node) {
	t.Helper()
	ctx := context.Background()
	p, err := a.srv.Federation.Add(ctx, b.base)
	if err != nil || p.State != federation.StateApproved {
		t.Fatalf("%s adds %s: got %q, %v; want approved", a.id, b.id, p.State, err)
	}
	got, err := b.srv.Federation.Peer(ctx, a.base)
	if err != nil || got.State != federation.StateRequested {
		t.Fatalf("%s sees %s: got %q, %v; want requested", b.id, a.id, got.State, err)
	}
	p, err = b.srv.Federation.Add(ctx, a.base)
	if err != nil || p.State != federation.StateActive {
		t.Fatalf("%s approves %s: got %q, %v; want active", b.id, a.id, p.State, err)
	}
	got, err = a.srv.Federation.Peer(ctx, b.base)
	if err != nil || got.State != federation.StateActive {
		t.Fatalf("%s sees %s: got %q, %v; want active", a.id, b.id, got.State, err)
	}
}

func (n *node) member(name string) announce.Actor {
	n.t.Helper()
	m, err := n.srv.Members.Add(context.Background(), members.Registration{Username: name, Password: "password-" + name,
		DisplayName: strings.ToUpper(name[:1]) + name[1:]}, members.RoleMember)
	if err != nil {
		n.t.Fatal(err)
	}
	return announce.Actor{MemberID: m.ID, Username: m.Username}
}

func (n *node) admin(name string) string {
	n.t.Helper()
	if _, err := n.srv.Members.Add(context.Background(), members.Registration{Username: name, Password: "password-" + name}, members.RoleAdmin); err != nil {
		n.t.Fatal(err)
	}
	return n.login(name)
}

func (n *node) login(name string) string {
	n.t.Helper()
	resp, err := http.Post(n.base+"/api/v1/session", "application/json",
		strings.NewReader(`{"username":"`+name+`","password":"password-`+name+`"}`))
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		n.t.Fatalf("login %s: %d %v", name, resp.StatusCode, err)
	}
	return out.Token
}

func (n *node) get(token, path string) (int, string) {
	n.t.Helper()
	req, _ := http.NewRequest("GET", n.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (n *node) metrics() string {
	n.t.Helper()
	resp, err := http.Get(n.base + "/metrics")
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (n *node) offer(actor announce.Actor, title string) announce.Announcement {
	n.t.Helper()
	price := int64(1250)
	a, err := n.srv.Announcements.Create(context.Background(), actor, announce.Draft{Kind: announce.Offer, Title: title,
		Description: "fresh from the garden", Category: "food", Price: &price, Place: "Market square"})
	if err != nil {
		n.t.Fatal(err)
	}
	return a
}

// remote lists the federated announcements n holds from origin: title by event id, and versions.
func (n *node) remote(origin string) (titles map[string]string, versions map[string]int64) {
	n.t.Helper()
	ctx := context.Background()
	titles, versions = map[string]string{}, map[string]int64{}
	rows, err := n.pool.Query(ctx, `SELECT origin_id, title FROM announcements WHERE origin = $1`, origin)
	if err != nil {
		n.t.Fatal(err)
	}
	for rows.Next() {
		var id, title string
		if err := rows.Scan(&id, &title); err != nil {
			n.t.Fatal(err)
		}
		titles[id] = title
	}
	rows, err = n.pool.Query(ctx, `SELECT object_id, version FROM federation_objects WHERE origin = $1`, origin)
	if err != nil {
		n.t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			n.t.Fatal(err)
		}
		versions[id] = v
	}
	return titles, versions
}

// outbox is n's own outbox: version by event id, and which are deleted.
func (n *node) outbox() (versions map[string]int64, live int) {
	n.t.Helper()
	versions = map[string]int64{}
	rows, err := n.pool.Query(context.Background(), `SELECT object_id, version, deleted FROM federation_events`)
	if err != nil {
		n.t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var v int64
		var deleted bool
		if err := rows.Scan(&id, &v, &deleted); err != nil {
			n.t.Fatal(err)
		}
		versions[id] = v
		if !deleted {
			live++
		}
	}
	return versions, live
}

// eventually polls cond for up to 20 s (bounded; not a timing assertion:
// it only stops a broken run from hanging).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *node) search(q string) []announce.Announcement {
	n.t.Helper()
	page, err := n.srv.Announcements.Search(context.Background(), announce.Query{Text: q})
	if err != nil {
		n.t.Fatal(err)
	}
	return page.Announcements
}

func TestWellKnown(t *testing.T) {
	a := newNode(t, "leaf")
	resp, err := http.Get(a.base + "/.well-known/sxp")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("got %d, want 200", resp.StatusCode)
	}
	var names []string
	for k := range d {
		names = append(names, k)
	}
	sort.Strings(names)
	if got, want := strings.Join(names, ","), "base_url,circle,currency,cxp_uri,divisions,id,keys,name,protocol"; got != want {
		t.Fatalf("got fields %s, want %s", got, want)
	}
	if d["protocol"] != "sxp-fed/1" || d["id"] != "leaf" || d["name"] != "Leaf Valley" || d["base_url"] != a.base ||
		d["currency"] != "LEAF" || d["divisions"] != float64(2) || d["cxp_uri"] != a.base || d["circle"] != nil {
		t.Fatalf("got %v", d)
	}
	keys := d["keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("got %d keys, want 1", len(keys))
	}
	k := keys[0].(map[string]any)
	raw, _ := base64.StdEncoding.DecodeString(k["public_key"].(string))
	if !strings.HasPrefix(k["keyid"].(string), a.base+"#") || k["alg"] != "ed25519" || len(raw) != 32 || len(k) != 3 {
		t.Fatalf("got key %v", k)
	}
	// A restart keeps the key.
	if err := a.srv.Federation.EnsureKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys2, _ := a.srv.Federation.Keys(context.Background())
	if len(keys2) != 1 || keys2[0].KeyID != k["keyid"] {
		t.Fatalf("got keys %v after EnsureKey, want the same one", keys2)
	}
}

func TestPeeringAndReplication(t *testing.T) {
	a, b, c := newNode(t, "leaf"), newNode(t, "oak"), newNode(t, "pine")
	peer(t, a, b)
	peer(t, b, c)
	alice := a.member("alice")
	offer := a.offer(alice, "Organic tomatoes")
	id := fmt.Sprintf("%s/announcements/%d", a.base, offer.ID)

	eventually(t, "b finds a's offer", func() bool { return len(b.search("tomatoes")) == 1 })
	got := b.search("tomatoes")[0]
	if got.Origin != a.base || got.Author != "alice@leaf" || got.AuthorName != "Alice" || got.RemoteCurrency != "LEAF" ||
		got.RemotePrice == nil || *got.RemotePrice != "12.50" || got.Category.Name != "Food" || got.Price != nil {
		t.Fatalf("got %+v", got)
	}
	if n := len(c.search("tomatoes")); n != 0 {
		t.Fatalf("c found %d, want 0: a and c do not peer", n)
	}

	// The API marks the origin; scope=local leaves federated ones out.
	b.member("bob")
	token := b.login("bob")
	st, raw := b.get(token, "/api/v1/announcements?q=tomatoes")
	var list struct {
		Announcements []struct {
			ID       int64             `json:"id"`
			Price    *string           `json:"price"`
			Currency string            `json:"currency"`
			Author   string            `json:"author"`
			Origin   map[string]string `json:"origin"`
		} `json:"announcements"`
	}
	if err := json.Unmarshal([]byte(raw), &list); err != nil || st != 200 || len(list.Announcements) != 1 {
		t.Fatalf("search on b: got %d %s", st, raw)
	}
	item := list.Announcements[0]
	if o := item.Origin; o["id"] != "leaf" || o["name"] != "Leaf Valley" || o["base_url"] != a.base || len(o) != 3 ||
		*item.Price != "12.50" || item.Currency != "LEAF" || item.Author != "alice@leaf" {
		t.Fatalf("got %+v", item)
	}
	if st, raw := b.get(token, "/api/v1/announcements?q=tomatoes&scope=local"); st != 200 || !strings.Contains(raw, `"total":0`) {
		t.Fatalf("scope=local: got %d %s, want no results", st, raw)
	}
	if st, raw := b.get(token, fmt.Sprintf("/offers/%d", item.ID)); st != 200 || !strings.Contains(raw, "Leaf Valley (leaf), a federated community") {
		t.Fatalf("offer page: got %d, want it to say where the offer is from:\n%s", st, raw)
	}
	if _, err := a.srv.Announcements.Update(context.Background(), alice, offer.ID, announce.Patch{Title: announce.To("Heirloom tomatoes")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the update reaches b", func() bool { return len(b.search("heirloom")) == 1 })
	_, versions := b.remote(a.base)
	if versions[id] != 2 {
		t.Fatalf("b holds version %d, want 2", versions[id])
	}
	if err := a.srv.Announcements.Delete(context.Background(), alice, offer.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deletion reaches b", func() bool { return len(b.search("tomatoes")) == 0 })
	titles, versions := b.remote(a.base)
	if len(titles) != 0 || versions[id] != 3 {
		t.Fatalf("b holds %v, version %d; want none, version 3", titles, versions[id])
	}

	// Pull serves the same events, deletions included, in change order.
	events, next, err := a.srv.Federation.Events(context.Background(), "", 500)
	if err != nil || len(events) != 1 || !events[0].Deleted || events[0].Version != 3 || events[0].Object != nil || next == "" {
		t.Fatalf("got %+v, %q, %v", events, next, err)
	}

	// The admin API and page show the peers with their state and delivery.
	admin := b.admin("ada")
	st, raw = b.get(admin, "/api/v1/admin/federation")
	var fed struct {
		BaseURL string `json:"base_url"`
		Keys    []struct {
			KeyID string `json:"keyid"`
		} `json:"keys"`
		Peers []struct {
			BaseURL        string   `json:"base_url"`
			ID             string   `json:"id"`
			State          string   `json:"state"`
			Keys           []string `json:"keys"`
			Backlog        int64    `json:"backlog"`
			Failures       int      `json:"failures"`
			LastDeliveryAt *string  `json:"last_delivery_at"`
		} `json:"peers"`
	}
	if err := json.Unmarshal([]byte(raw), &fed); err != nil || st != 200 || fed.BaseURL != b.base || len(fed.Keys) != 1 || len(fed.Peers) != 2 {
		t.Fatalf("admin federation: got %d %s", st, raw)
	}
	for _, p := range fed.Peers {
		if p.State != "active" || len(p.Keys) != 1 || p.Backlog != 0 || p.Failures != 0 || (p.BaseURL != a.base && p.BaseURL != c.base) {
			t.Fatalf("admin federation: got peer %+v", p)
		}
	}
	if st, _ := b.get(token, "/api/v1/admin/federation"); st != 403 {
		t.Fatalf("admin federation as a member: got %d, want 403", st)
	}
	if st, raw := b.get(admin, "/admin/federation"); st != 200 || !strings.Contains(raw, a.base) || !strings.Contains(raw, "Leaf Valley (leaf)") {
		t.Fatalf("admin federation page: got %d\n%s", st, raw)
	}

	// Removing a peer tells it: both forget each other.
	told, err := b.srv.Federation.Remove(context.Background(), c.base)
	if err != nil || told != nil {
		t.Fatalf("remove: %v, told %v", err, told)
	}
	if _, err := c.srv.Federation.Peer(context.Background(), b.base); err == nil {
		t.Fatal("c still knows b after b removed it")
	}
}

// signedTo sends a request to n signed by keyID with key (changes may tamper).
func signedTo(t *testing.T, n *node, method, path string, body []byte, s httpsig.Signer, tamper func(*http.Request)) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, n.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.KeyID != "" {
		s.Alg, s.Label = httpsig.AlgEd25519, federation.Label
		if err := s.Sign(req, body); err != nil {
			t.Fatal(err)
		}
	}
	if tamper != nil {
		tamper(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// currentKey is n's signing key, read from its database.
func currentKey(t *testing.T, n *node) (string, ed25519.PrivateKey) {
	t.Helper()
	var id string
	var priv []byte
	if err := n.pool.QueryRow(context.Background(), `SELECT keyid, private_key FROM federation_keys
		WHERE retires_at IS NULL ORDER BY created_at DESC LIMIT 1`).Scan(&id, &priv); err != nil {
		t.Fatal(err)
	}
	return id, priv
}

func TestSignatureRefusals(t *testing.T) {
	a, b, c := newNode(t, "leaf"), newNode(t, "oak"), newNode(t, "pine")
	peer(t, a, b)
	keyA, privA := currentKey(t, a)
	keyC, privC := currentKey(t, c)
	_, wrong, _ := ed25519.GenerateKey(rand.Reader)
	inbox := []byte(`{"events":[]}`)
	fixed := func(s string) func() string { return func() string { return s } }
	stale := func() time.Time { return time.Now().Add(-301 * time.Second) }

	type want struct {
		status int
		code   string
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		signer httpsig.Signer
		tamper func(*http.Request)
		want   want
	}{
		{"signed by a peer", "GET", "/federation/v1/events?limit=10", nil, httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, nil, want{200, ""}},
		{"inbox signed by a peer", "POST", "/federation/v1/inbox", inbox, httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, nil, want{200, ""}},
		{"unsigned", "GET", "/federation/v1/events", nil, httpsig.Signer{}, nil, want{401, "bad_signature"}},
		{"malformed signature", "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: keyA, Ed25519Key: privA},
			func(r *http.Request) { r.Header.Set("Signature", "sxp=nonsense") }, want{401, "bad_signature"}},
		{"other label", "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, func(r *http.Request) {
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), "sxp=", "cxp=", 1))
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), "sxp=", "cxp=", 1))
		}, want{401, "bad_signature"}},
		{"wrong key", "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: keyA, Ed25519Key: wrong}, nil, want{401, "bad_signature"}},
		{"stale created", "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: keyA, Ed25519Key: privA, Now: stale}, nil, want{401, "bad_signature"}},
		{"tampered body", "POST", "/federation/v1/inbox", inbox, httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"events":[{}]}`))
			r.ContentLength = int64(len(`{"events":[{}]}`))
		}, want{401, "bad_signature"}},
		{"tampered target", "GET", "/federation/v1/events?limit=10", nil, httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, func(r *http.Request) {
			r.URL.RawQuery = "limit=11"
		}, want{401, "bad_signature"}},
		{"not a peer", "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: keyC, Ed25519Key: privC}, nil, want{403, "not_a_peer"}},
		{"not a peer, stale too: 403 first", "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: keyC, Ed25519Key: privC, Now: stale}, nil, want{403, "not_a_peer"}},
		{"unknown server", "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: "http://127.0.0.1:9#k", Ed25519Key: wrong}, nil, want{403, "not_a_peer"}},
		{"keyid without server", "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: "k1", Ed25519Key: privA}, nil, want{401, "bad_signature"}},
		{"unknown keyid of a peer", "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: a.base + "#nope", Ed25519Key: privA}, nil, want{401, "bad_signature"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := signedTo(t, b, tt.method, tt.path, tt.body, tt.signer, tt.tamper)
			if st != tt.want.status {
				t.Fatalf("got %d %v, want %d", st, body, tt.want.status)
			}
			if tt.want.code != "" {
				e, _ := body["error"].(map[string]any)
				if e == nil || e["code"] != tt.want.code || e["message"] == "" {
					t.Fatalf("got body %v, want error code %s", body, tt.want.code)
				}
			}
		})
	}

	t.Run("replayed nonce", func(t *testing.T) {
		s := httpsig.Signer{KeyID: keyA, Ed25519Key: privA, Nonce: fixed("replay-me-0001")}
		if st, body := signedTo(t, b, "GET", "/federation/v1/events", nil, s, nil); st != 200 {
			t.Fatalf("first: got %d %v, want 200", st, body)
		}
		if st, body := signedTo(t, b, "GET", "/federation/v1/events", nil, s, nil); st != 401 {
			t.Fatalf("replay: got %d %v, want 401", st, body)
		}
	})

	t.Run("rotated key", func(t *testing.T) {
		ctx := context.Background()
		if _, err := a.srv.Federation.Rotate(ctx, time.Hour); err != nil {
			t.Fatal(err)
		}
		keyNew, privNew := currentKey(t, a)
		if keyNew == keyA {
			t.Fatal("rotation kept the key id")
		}
		// b learns the new key from a's /.well-known/sxp when it first sees it.
		if st, body := signedTo(t, b, "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: keyNew, Ed25519Key: privNew}, nil); st != 200 {
			t.Fatalf("new key: got %d %v, want 200", st, body)
		}
		if st, body := signedTo(t, b, "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, nil); st != 200 {
			t.Fatalf("old key in its overlap: got %d %v, want 200", st, body)
		}
		// The overlap ends: a stops listing the old key; b refetches and drops it.
		if _, err := a.pool.Exec(ctx, `UPDATE federation_keys SET retires_at = now() - interval '1 second' WHERE keyid = $1`, keyA); err != nil {
			t.Fatal(err)
		}
		if err := a.srv.Federation.EnsureKey(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.srv.Federation.RefreshKeys(ctx, a.base); err != nil {
			t.Fatal(err)
		}
		if st, body := signedTo(t, b, "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, nil); st != 401 {
			t.Fatalf("old key after the overlap: got %d %v, want 401", st, body)
		}
		if st, body := signedTo(t, b, "GET", "/federation/v1/events", nil, httpsig.Signer{KeyID: keyNew, Ed25519Key: privNew}, nil); st != 200 {
			t.Fatalf("new key after the overlap: got %d %v, want 200", st, body)
		}
	})

	t.Run("inbox applies only newer versions", func(t *testing.T) {
		keyNow, privNow := currentKey(t, a)
		signer := httpsig.Signer{KeyID: keyNow, Ed25519Key: privNow}
		obj := func(title string) string {
			return `{"kind":"offer","title":"` + title + `","description":"","category":"Tools","price":"3.5","currency":"LEAF","place":"",` +
				`"lat":null,"lon":null,"expires_at":"2099-01-01T00:00:00Z","author":{"username":"zed","display_name":"Zed"},` +
				`"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z","extra":"ignored"}`
		}
		x, y := a.base+"/announcements/900", a.base+"/announcements/901"
		batch := []byte(`{"events":[` +
			`{"type":"announcement","id":"` + x + `","origin":"` + a.base + `","version":2,"deleted":false,"object":` + obj("Hammer v2") + `},` +
			`{"type":"announcement","id":"` + x + `","origin":"` + a.base + `","version":1,"deleted":false,"object":` + obj("Hammer v1") + `},` +
			`{"type":"announcement","id":"` + y + `","origin":"` + a.base + `","version":1,"deleted":true},` +
			`{"type":"wantlist","id":"` + a.base + `/wantlists/1","origin":"` + a.base + `","version":1,"deleted":false,"object":{}}]}`)
		for i, want := range []string{`map[applied:2 ignored:2]`, `map[applied:0 ignored:4]`} {
			st, out := signedTo(t, b, "POST", "/federation/v1/inbox", batch, signer, nil)
			if st != 200 || fmt.Sprint(out) != want {
				t.Fatalf("push %d: got %d %v, want 200 %s", i+1, st, out, want)
			}
		}
		titles, versions := b.remote(a.base)
		if titles[x] != "Hammer v2" || versions[x] != 2 || versions[y] != 1 || len(titles) != 1 {
			t.Fatalf("b holds %v %v", titles, versions)
		}
		var many strings.Builder
		many.WriteString(`{"events":[`)
		for i := range 101 {
			if i > 0 {
				many.WriteString(",")
			}
			fmt.Fprintf(&many, `{"type":"announcement","id":"%s/announcements/%d","origin":"%s","version":1,"deleted":true}`, a.base, 1000+i, a.base)
		}
		many.WriteString("]}")
		if st, out := signedTo(t, b, "POST", "/federation/v1/inbox", []byte(many.String()), signer, nil); st != 400 {
			t.Fatalf("101 events: got %d %v, want 400", st, out)
		}
		huge := []byte(`{"events":[],"pad":"` + strings.Repeat("x", federation.MaxBatchBytes) + `"}`)
		if st, out := signedTo(t, b, "POST", "/federation/v1/inbox", huge, signer, nil); st != 413 {
			t.Fatalf("over 1 MiB: got %d %v, want 413", st, out)
		}
		for _, q := range []string{"limit=0", "limit=501", "after=abc"} {
			if st, out := signedTo(t, b, "GET", "/federation/v1/events?"+q, nil, signer, nil); st != 400 {
				t.Fatalf("events?%s: got %d %v, want 400", q, st, out)
			}
		}
	})

	t.Run("foreign origin refused", func(t *testing.T) {
		body := []byte(`{"events":[{"type":"announcement","id":"` + c.base + `/announcements/1","origin":"` + c.base + `","version":1,"deleted":true}]}`)
		keyNow, privNow := currentKey(t, a)
		st, out := signedTo(t, b, "POST", "/federation/v1/inbox", body, httpsig.Signer{KeyID: keyNow, Ed25519Key: privNow}, nil)
		if st != 403 {
			t.Fatalf("got %d %v, want 403", st, out)
		}
	})
}

func TestDeliveryUnderFaults(t *testing.T) {
	a := newNode(t, "leaf")
	good, failing, hanging, down := newNode(t, "oak"), newNode(t, "pine"), newNode(t, "elm"), newNode(t, "ash")
	for _, p := range []*node{good, failing, hanging, down} {
		peer(t, a, p)
	}
	failing.fault.Store(fault500)
	hanging.fault.Store(faultHang)
	down.fault.Store(faultDown)
	// Each peer pulls a's events once when its loop starts (and then only
	// after FederationPull, an hour): let those pulls be over before a has
	// events, so that the failing peers can get them only by delivery.
	eventually(t, "each peer's first pull is over", func() bool {
		pulls := 0
		for line := range strings.Lines(a.metrics()) {
			if strings.HasPrefix(line, "sxp_http_requests_total{") && strings.Contains(line, `route="/federation/v1/events"`) {
				var v float64
				if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
					pulls += int(v)
				}
			}
		}
		return pulls >= 4
	})
	alice := a.member("alice")
	const n = 20
	for i := range n {
		a.offer(alice, fmt.Sprintf("Offer number %d", i))
	}
	want, live := a.outbox()
	if len(want) != n || live != n {
		t.Fatalf("a's outbox has %d events (%d live), want %d", len(want), live, n)
	}
	holds := func(p *node) bool {
		titles, versions := p.remote(a.base)
		if len(titles) != n || len(versions) != n {
			return false
		}
		for id, v := range want {
			if versions[id] != v {
				return false
			}
		}
		return true
	}
	eventually(t, "the good peer gets every event", func() bool { return holds(good) })
	for _, p := range []*node{failing, hanging, down} {
		if titles, _ := p.remote(a.base); len(titles) != 0 {
			t.Fatalf("%s holds %d while failing, want 0", p.id, len(titles))
		}
	}
	eventually(t, "failures are recorded", func() bool {
		for _, p := range []*node{failing, hanging, down} {
			got, err := a.srv.Federation.Peer(context.Background(), p.base)
			if err != nil || got.Failures == 0 || got.Backlog != n {
				return false
			}
		}
		return true
	})
	for _, p := range []*node{failing, hanging, down} {
		p.fault.Store(faultNone)
	}
	for _, p := range []*node{failing, hanging, down} {
		eventually(t, p.id+" gets every event after recovery", func() bool { return holds(p) })
	}
	// The receivers hold everything; a records each delivery just after
	// its peer answered.
	var metricsA string
	eventually(t, "a's metrics count every delivery", func() bool {
		metricsA = a.metrics()
		for _, p := range []*node{good, failing, hanging, down} {
			if !strings.Contains(metricsA, fmt.Sprintf("sxp_federation_backlog_events{peer=%q} 0\n", p.base)) {
				return false
			}
		}
		return true
	})
	for _, p := range []*node{good, failing, hanging, down} {
		for _, line := range []string{
			fmt.Sprintf(`sxp_federation_events_delivered_total{peer=%q} %d`, p.base, n),
			fmt.Sprintf(`sxp_federation_backlog_events{peer=%q} 0`, p.base),
			fmt.Sprintf(`sxp_federation_peer_failing{peer=%q} 0`, p.base),
		} {
			if !strings.Contains(metricsA, line+"\n") {
				t.Errorf("a's /metrics lacks %q", line)
			}
		}
		if line := fmt.Sprintf(`sxp_federation_events_applied_total{peer=%q} %d`, a.base, n); !strings.Contains(p.metrics(), line+"\n") {
			t.Errorf("%s's /metrics lacks %q", p.id, line)
		}
	}
	if strings.Contains(metricsA, fmt.Sprintf(`sxp_federation_delivery_failures_total{peer=%q} 0`, failing.base)) {
		t.Errorf("a's /metrics counts no failure for the failing peer")
	}
	for _, p := range []*node{good, failing, hanging, down} {
		got, _ := a.srv.Federation.Peer(context.Background(), p.base)
		if got.Backlog != 0 || got.Failures != 0 || got.LastDeliveryAt == nil {
			t.Fatalf("%s: got backlog %d, failures %d, last delivery %v; want 0, 0, set", p.id, got.Backlog, got.Failures, got.LastDeliveryAt)
		}
	}
}

// TestOutboxLifecycle follows one announcement's events through every kind
// of change, and the sweep that publishes expiries and older announcements.
func TestOutboxLifecycle(t *testing.T) {
	a := newNode(t, "leaf")
	ctx := context.Background()
	alice := a.member("alice")
	offer := a.offer(alice, "Plum jam")
	id := fmt.Sprintf("%s/announcements/%d", a.base, offer.ID)
	event := func() federation.Event {
		t.Helper()
		events, _, err := a.srv.Federation.Events(ctx, "", 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.ID == id {
				return e
			}
		}
		t.Fatalf("no event %s in %+v", id, events)
		return federation.Event{}
	}
	steps := []struct {
		name        string
		do          func() error
		wantVersion int64
		wantDeleted bool
		wantTitle   string
	}{
		{"created", func() error { return nil }, 1, false, "Plum jam"},
		{"closed: sent as deleted", func() error {
			_, err := a.srv.Announcements.Close(ctx, alice, offer.ID)
			return err
		}, 2, true, ""},
		{"closed again: nothing new", func() error {
			_, err := a.srv.Announcements.Update(ctx, alice, offer.ID, announce.Patch{Title: announce.To("Plum jam, closed")})
			return err
		}, 2, true, ""},
		{"reopened", func() error {
			_, err := a.srv.Announcements.Update(ctx, alice, offer.ID, announce.Patch{Status: announce.To(announce.Active)})
			return err
		}, 3, false, "Plum jam, closed"},
		{"category renamed: sent again with the new name", func() error {
			_, err := a.srv.Announcements.UpdateCategory(ctx, "food", announce.Field[string]{}, announce.To("Food and drink"))
			return err
		}, 4, false, "Plum jam, closed"},
		{"expired (found by the sweep): sent as deleted", func() error {
			if _, err := a.pool.Exec(ctx, `UPDATE announcements SET expires_at = now() - interval '1 minute' WHERE id = $1`, offer.ID); err != nil {
				return err
			}
			n, err := a.srv.Federation.Sweep(ctx)
			if err == nil && n != 1 {
				err = fmt.Errorf("sweep wrote %d events, want 1", n)
			}
			return err
		}, 5, true, ""},
		{"deleted after expiry: nothing new", func() error {
			return a.srv.Announcements.Delete(ctx, alice, offer.ID)
		}, 5, true, ""},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		e := event()
		if e.Version != st.wantVersion || e.Deleted != st.wantDeleted || (e.Object == nil) != st.wantDeleted {
			t.Fatalf("%s: got version %d deleted %v object %v, want version %d deleted %v", st.name, e.Version, e.Deleted, e.Object, st.wantVersion, st.wantDeleted)
		}
		if e.Object != nil && e.Object.Title != st.wantTitle {
			t.Fatalf("%s: got title %q, want %q", st.name, e.Object.Title, st.wantTitle)
		}
		if st.name == "category renamed: sent again with the new name" && e.Object.Category != "Food and drink" {
			t.Fatalf("%s: got category %q", st.name, e.Object.Category)
		}
	}
	// An announcement written without an event (before federation) is sent by the sweep.
	var old int64
	if err := a.pool.QueryRow(ctx, `INSERT INTO announcements (member_id, author, kind, title, category_id, expires_at)
		SELECT $1, 'alice', 'want', 'Old want', id, now() + interval '1 day' FROM announcement_categories WHERE slug = 'goods'
		RETURNING id`, alice.MemberID).Scan(&old); err != nil {
		t.Fatal(err)
	}
	if n, err := a.srv.Federation.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: got %d, %v; want 1 event", n, err)
	}
	if n, err := a.srv.Federation.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("second sweep: got %d, %v; want 0", n, err)
	}
	versions, live := a.outbox()
	oldID := fmt.Sprintf("%s/announcements/%d", a.base, old)
	if len(versions) != 2 || live != 1 || versions[oldID] != 1 {
		t.Fatalf("outbox: got %v (%d live), want the jam's tombstone and the old want at version 1", versions, live)
	}
	// A display name changed in the profile, a category renamed behind the
	// service's back (the command line): the sweep sends the want again, once.
	if _, err := a.pool.Exec(ctx, `UPDATE members SET display_name = 'Alice Plum' WHERE username = 'alice'`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.pool.Exec(ctx, `UPDATE announcement_categories SET name = 'Goods and things' WHERE slug = 'goods'`); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{1, 0} {
		if n, err := a.srv.Federation.Sweep(ctx); err != nil || n != want {
			t.Fatalf("sweep %d after the renames: got %d, %v; want %d", i+1, n, err, want)
		}
	}
	events, _, err := a.srv.Federation.Events(ctx, "", 500)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1]
	if last.ID != oldID || last.Version != 2 || last.Object.Category != "Goods and things" || last.Object.Author.DisplayName != "Alice Plum" {
		t.Fatalf("got %+v, want the old want at version 2 with the new names", last)
	}
}

// TestPeeringRequestsBounded: at most federation.MaxRequests requests wait
// for the admin; the next one is refused with 429 and recorded nowhere.
func TestPeeringRequestsBounded(t *testing.T) {
	a, b := newNode(t, "leaf"), newNode(t, "oak")
	ctx := context.Background()
	if _, err := b.pool.Exec(ctx, `INSERT INTO federation_peers (base_url, state)
		SELECT 'https://p' || i || '.example', 'requested' FROM generate_series(1, $1) i`, federation.MaxRequests); err != nil {
		t.Fatal(err)
	}
	_, err := a.srv.Federation.Add(ctx, b.base)
	var e *federation.Error
	if !errors.As(err, &e) || e.Code != "peer_refused" || !strings.Contains(e.Message, "answered 429") {
		t.Fatalf("got %v, want peer_refused naming 429", err)
	}
	if _, err := b.srv.Federation.Peer(ctx, a.base); err == nil {
		t.Fatal("b recorded the refused request")
	}
	// The admin refuses one: there is room again.
	if _, err := b.srv.Federation.Refuse(ctx, "https://p1.example"); err != nil {
		t.Fatal(err)
	}
	if p, err := a.srv.Federation.Add(ctx, b.base); err != nil || p.State != federation.StateApproved {
		t.Fatalf("got %+v, %v; want approved", p, err)
	}
}

// TestSealedKey: with SXP_FEDERATION_SECRET the private key is sealed in the
// database, signs as usual, and does not open with another secret.
func TestSealedKey(t *testing.T) {
	a := newNodeWith(t, "leaf", func(c *server.Config) { c.FederationSecret = "a long federation secret" })
	b := newNode(t, "oak")
	peer(t, a, b) // a signs its peering request with the sealed key
	ctx := context.Background()
	var sealed bool
	var n int
	if err := a.pool.QueryRow(ctx, `SELECT sealed, octet_length(private_key) FROM federation_keys`).Scan(&sealed, &n); err != nil {
		t.Fatal(err)
	}
	if !sealed || n == 64 {
		t.Fatalf("got sealed %v, %d bytes; want a sealed key", sealed, n)
	}
	for _, secret := range []string{"", "another secret"} {
		fed, err := server.NewFederation(server.Config{PublicURL: a.base, CommunityID: "leaf", CommunityName: "Leaf Valley",
			Currency: "LEAF", CurrencyDivisions: 2, FederationSecret: secret}, a.pool, "", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fed.Add(ctx, b.base); err == nil || !strings.Contains(err.Error(), "SXP_FEDERATION_SECRET") {
			t.Fatalf("secret %q: got %v, want an error naming SXP_FEDERATION_SECRET", secret, err)
		}
	}
}

// TestPeerRateLimit: an active peer's signed requests beyond the burst
// (PeerBurst at once, refilled at PeerRate a second) are answered 429 with
// Retry-After; the first PeerBurst always pass.
func TestPeerRateLimit(t *testing.T) {
	a, b := newNode(t, "leaf"), newNode(t, "oak")
	peer(t, a, b)
	keyA, privA := currentKey(t, a)
	for i := 0; i < 20*server.PeerBurst; i++ {
		st, body := signedTo(t, b, "GET", "/federation/v1/events?limit=1", nil, httpsig.Signer{KeyID: keyA, Ed25519Key: privA}, nil)
		if st == http.StatusTooManyRequests {
			if i < server.PeerBurst {
				t.Fatalf("request %d refused, want the first %d let through", i, server.PeerBurst)
			}
			if e, _ := body["error"].(map[string]any); e == nil || e["code"] != "too_many_requests" {
				t.Fatalf("got body %v, want error code too_many_requests", body)
			}
			return
		}
		if st != http.StatusOK {
			t.Fatalf("request %d: got %d %v, want 200", i, st, body)
		}
	}
	t.Fatalf("no 429 after %d requests", 20*server.PeerBurst)
}
