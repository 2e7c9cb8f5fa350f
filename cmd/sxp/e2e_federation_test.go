package main

// The end-to-end test of federation (sxp-fed/1): three community servers,
// real `sxp community` processes on loopback ports, each on its own
// database, running alone (no circle): leaf (A), oak (B) and pine (C).
// A and B peer, B and C peer, A and C do not; peering is done with
// 'sxp peers add' on the command line as an organiser would.

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
)

const fedPassword = "a long enough federation password"

type fedServer struct {
	id, base, db, trace string
	args                []string // settings (without --listen)
	listen              string
	proc                *sxptest.Process
	pool                *pgxpool.Pool
}

func startFedServer(t *testing.T, bin string, s *fedServer) {
	t.Helper()
	startCommunity(t, bin, s)
}

func TestFederationEndToEnd(t *testing.T) {
	bin := sxptest.BuildSXP(t)
	dir := t.TempDir()
	servers := startCommunities(t, bin, []fedCommunity{{"leaf", "Leaf Valley", "LEAF"}, {"oak", "Oak Hill", "OAK"}, {"pine", "Pine Ridge", "PINE"}},
		func(s *fedServer) []string {
			s.trace = filepath.Join(dir, s.id+".trace")
			return []string{"--default-min", "-100", "--default-max", "100",
				"--registration", "open", "--federation-retry", "200ms", "--federation-timeout", "2s",
				"--federation-trace", s.trace}
		})
	a, b, c := servers[0], servers[1], servers[2]
	sxp := func(s *fedServer, args ...string) string {
		t.Helper()
		return sxptest.Run(t, bin, sxptest.WithoutSettings(), append(args, s.args...)...)
	}

	// Peering on the command line: A–B and B–C; both sides approve.
	if out := sxp(a, "peers", "add", b.base); out != fmt.Sprintf("%s: approved (oak, Oak Hill)\n", b.base) {
		t.Fatalf("leaf: peers add oak: got %q", out)
	}
	if out := sxp(b, "peers", "list"); !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(a.base) + `\s+leaf\s+Leaf Valley\s+requested\s+1\s`).MatchString(out) {
		t.Fatalf("oak: peers list: got\n%s\nwant leaf as a request", out)
	}
	if out := sxp(b, "peers", "add", a.base); out != fmt.Sprintf("%s: active (leaf, Leaf Valley)\n", a.base) {
		t.Fatalf("oak: peers add leaf: got %q", out)
	}
	sxp(b, "peers", "add", c.base)
	if out := sxp(c, "peers", "add", b.base); out != fmt.Sprintf("%s: active (oak, Oak Hill)\n", b.base) {
		t.Fatalf("pine: peers add oak: got %q", out)
	}
	if out := sxp(a, "peers", "list"); !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(b.base) + `\s+oak\s+Oak Hill\s+active\s`).MatchString(out) {
		t.Fatalf("leaf: peers list: got\n%s", out)
	}

	// Members, with data that must never cross: a contact e-mail, a
	// balance, sessions.
	alice := register(t, a.base, "alice")
	carol := register(t, a.base, "carol")
	if st, out := apiJSON(t, a.base, "PATCH", "/api/v1/me", alice, map[string]string{"contact": "alice.secret@example.org"}); st != 200 {
		t.Fatalf("contact: %d %v", st, out)
	}
	if st, out := apiJSON(t, a.base, "POST", "/api/v1/payments", alice, map[string]string{"to": "carol", "amount": "37.91",
		"description": "private payment", "idempotency_key": "p1"}); st != 201 {
		t.Fatalf("pay: %d %v", st, out)
	}
	bob := register(t, b.base, "bob")
	pat := register(t, c.base, "pat")

	create := func(title string) int64 {
		t.Helper()
		st, out := apiJSON(t, a.base, "POST", "/api/v1/announcements", alice, map[string]any{"kind": "offer", "title": title,
			"description": "grown in Leaf Valley", "category": "food", "price": "12.50", "place": "Market square"})
		if st != 201 {
			t.Fatalf("create %q: %d %v", title, st, out)
		}
		return int64(out["id"].(float64))
	}
	search := func(s *fedServer, token, q string) []any {
		t.Helper()
		st, out := apiJSON(t, s.base, "GET", "/api/v1/announcements?q="+q, token, nil)
		if st != 200 {
			t.Fatalf("search %s: %d %v", s.id, st, out)
		}
		return out["announcements"].([]any)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting: %s", what)
			}
		}
	}

	// An announcement made on A is found on B, not on C.
	id := create("Organic quinces")
	waitFor("oak finds leaf's quinces", func() bool { return len(search(b, bob, "quinces")) == 1 })
	got := search(b, bob, "quinces")[0].(map[string]any)
	if o := got["origin"].(map[string]any); o["id"] != "leaf" || o["name"] != "Leaf Valley" || o["base_url"] != a.base ||
		got["author"] != "alice@leaf" || got["price"] != "12.50" || got["currency"] != "LEAF" || got["category_name"] != "Food" {
		t.Fatalf("oak's result: got %v", got)
	}
	if st, out := apiJSON(t, b.base, "PATCH", fmt.Sprintf("/api/v1/announcements/%v", got["id"]), bob, map[string]string{"title": "mine now"}); st != 403 {
		t.Fatalf("editing a federated announcement on oak: got %d %v, want 403", st, out)
	}
	// An update and a deletion reach B.
	if st, out := apiJSON(t, a.base, "PATCH", fmt.Sprintf("/api/v1/announcements/%d", id), alice, map[string]string{"title": "Golden quinces"}); st != 200 {
		t.Fatalf("update: %d %v", st, out)
	}
	waitFor("the update reaches oak", func() bool { return len(search(b, bob, "golden")) == 1 })
	if st, out := apiJSON(t, a.base, "DELETE", fmt.Sprintf("/api/v1/announcements/%d", id), alice, nil); st != 204 && st != 200 {
		t.Fatalf("delete: %d %v", st, out)
	}
	waitFor("the deletion reaches oak", func() bool { return len(search(b, bob, "quinces")) == 0 })

	// B is stopped while A publishes 50 changes: 20 offers, 20 updates, 10 deletions.
	b.proc.Stop()
	var ids []int64
	for i := range 20 {
		ids = append(ids, create(fmt.Sprintf("Apple crate number %d", i)))
	}
	for i, x := range ids {
		if st, out := apiJSON(t, a.base, "PATCH", fmt.Sprintf("/api/v1/announcements/%d", x), alice, map[string]string{"title": fmt.Sprintf("Pear crate number %d", i)}); st != 200 {
			t.Fatalf("update %d: %d %v", x, st, out)
		}
	}
	for _, x := range ids[:10] {
		if st, out := apiJSON(t, a.base, "DELETE", fmt.Sprintf("/api/v1/announcements/%d", x), alice, nil); st/100 != 2 {
			t.Fatalf("delete %d: %d %v", x, st, out)
		}
	}
	want := outboxOf(t, a)
	if len(want) != 21 {
		t.Fatalf("leaf's outbox holds %d objects, want 21", len(want))
	}
	startFedServer(t, bin, b)
	waitFor("oak catches up", func() bool { return fmt.Sprint(heldBy(t, b, a.base)) == fmt.Sprint(want) })
	var live int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM announcements WHERE origin = $1`, a.base).Scan(&live); err != nil || live != 10 {
		t.Fatalf("oak holds %d of leaf's announcements, want 10 (%v)", live, err)
	}
	if n := len(search(b, bob, "pear")); n != 10 {
		t.Fatalf("oak finds %d pear crates, want 10", n)
	}
	// Nothing applied twice: each of the 20 objects changed while oak was
	// down was applied once (the quinces' deletion came before).
	waitFor("oak's metrics", func() bool {
		return strings.Contains(metricsOf(t, b.base), fmt.Sprintf("sxp_federation_events_applied_total{peer=%q} 20\n", a.base))
	})

	// A and C do not peer: C holds nothing of A's, and finds nothing.
	if n := len(search(c, pat, "pear")); n != 0 {
		t.Fatalf("pine finds %d of leaf's offers, want 0", n)
	}
	if got := heldBy(t, c, a.base); len(got) != 0 {
		t.Fatalf("pine holds %v of leaf's objects, want none", got)
	}

	// A key rotation on the command line: oak picks up leaf's new key from
	// the first request signed with it; the old key stays listed.
	if out := sxp(a, "keys", "rotate", "--overlap", "1h"); !strings.HasPrefix(out, "new key "+a.base+"#") {
		t.Fatalf("keys rotate: got %q", out)
	}
	if out := sxp(a, "keys", "list"); strings.Count(out, a.base+"#") != 2 || !strings.Contains(out, "current") || !strings.Contains(out, "listed until") {
		t.Fatalf("keys list: got %q, want the new key and the old one", out)
	}
	create("Rotated rhubarb")
	waitFor("oak finds the offer signed with leaf's new key", func() bool { return len(search(b, bob, "rhubarb")) == 1 })

	// Privacy: nothing but announcements left any server.
	tokens := []string{alice, carol, bob, pat}
	for _, s := range servers {
		raw, err := os.ReadFile(s.trace)
		if err != nil {
			t.Fatal(err)
		}
		sent := string(raw)
		if s == a && !strings.Contains(sent, "POST "+b.base+"/federation/v1/inbox") {
			t.Fatalf("leaf's trace has no delivery to oak:\n%.2000s", sent)
		}
		// Times of day ("00:14:37.912Z") are left out first: their seconds
		// could spell the amount.
		sent = regexp.MustCompile(`\d{2}:\d{2}:\d{2}(\.\d+)?`).ReplaceAllString(sent, "hh:mm:ss")
		for _, secret := range append([]string{fedPassword, "alice.secret@example.org", "37.91", "-37.91", "private payment",
			"password_hash", "balance", "sxp_session"}, tokens...) {
			if strings.Contains(sent, secret) {
				t.Errorf("%s sent %q to a peer", s.id, secret)
			}
		}
		if m := regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}`).FindString(sent); m != "" {
			t.Errorf("%s sent an e-mail address to a peer: %q", s.id, m)
		}
	}
}

func register(t *testing.T, base, username string) string {
	t.Helper()
	if st, out := apiJSON(t, base, "POST", "/api/v1/members", "", map[string]string{
		"username": username, "password": fedPassword, "display_name": strings.ToUpper(username[:1]) + username[1:]}); st/100 != 2 {
		t.Fatalf("register %s: %d %v", username, st, out)
	}
	return login(t, base, username, fedPassword)
}

// outboxOf is s's outbox: version by object id.
func outboxOf(t *testing.T, s *fedServer) map[string]int64 {
	t.Helper()
	return versions(t, s, `SELECT object_id, version FROM federation_events`)
}

// heldBy is the version of every object of origin that s holds.
func heldBy(t *testing.T, s *fedServer, origin string) map[string]int64 {
	t.Helper()
	return versions(t, s, `SELECT object_id, version FROM federation_objects WHERE origin = $1`, origin)
}

func versions(t *testing.T, s *fedServer, sql string, args ...any) map[string]int64 {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]int64{}
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		m[id] = v
	}
	return m
}

func metricsOf(t *testing.T, base string) string {
	t.Helper()
	st, body := getText(t, base+"/metrics")
	if st != 200 {
		t.Fatalf("metrics: %d", st)
	}
	return body
}

func getText(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPayRemoteOfferInOneStep: leaf and acorn share a circle and peer (as
// deploy/run sets them up); acorn's offer is listed on leaf, and its page on
// leaf pays its author bob@acorn through the circle with one form.
func TestPayRemoteOfferInOneStep(t *testing.T) {
	c := startCircle(t)
	bob := c.member(c.acorn, "bob")
	alice := c.member(c.leaf, "alice")
	if st, out := c.api(c.acorn, "POST", "/api/v1/announcements", bob, map[string]any{"kind": "offer", "title": "Walnut honey",
		"category": "food", "price": "4.00"}); st != 201 {
		t.Fatalf("create: %d %v", st, out)
	}
	var item map[string]any
	for deadline := time.Now().Add(30 * time.Second); item == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("leaf never listed acorn's honey")
		}
		if st, out := c.api(c.leaf, "GET", "/api/v1/announcements?q=honey", alice, nil); st == 200 && len(out["announcements"].([]any)) == 1 {
			item = out["announcements"].([]any)[0].(map[string]any)
		}
	}
	if o, _ := item["origin"].(map[string]any); o["id"] != "acorn" || item["author"] != "bob@acorn" || item["price"] != "4.00" || item["currency"] != "ACORN" {
		t.Fatalf("leaf lists %v", item)
	}
	page := pageAs(t, c.leaf, fmt.Sprintf("/offers/%v", item["id"]), alice, nil)
	if !strings.Contains(page, "Acorn Hill (acorn), a federated community") || !strings.Contains(page, "4.00 ACORN") {
		t.Fatalf("the offer page does not say where it is from:\n%s", page)
	}
	form := url.Values{}
	for _, f := range []string{"csrf", "key", "to", "description"} {
		m := regexp.MustCompile(`name="` + f + `" value="([^"]*)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("the offer page has no pay form field %s:\n%s", f, page)
		}
		form.Set(f, html.UnescapeString(m[1]))
	}
	if form.Get("to") != "bob@acorn" {
		t.Fatalf("the pay form pays %q, want bob@acorn", form.Get("to"))
	}
	form.Set("amount", "8.00") // 8.00 LEAF = 8 VAL = 4.00 ACORN
	if out := pageAs(t, c.leaf, "/pay", alice, form); !strings.Contains(out, "Paid 8.00 LEAF to bob@acorn.") {
		t.Fatalf("paying from the offer page:\n%s", out)
	}
	if st, out := c.api(c.acorn, "GET", "/api/v1/me/account", bob, nil); st != 200 || out["balance"] != "4.00" {
		t.Fatalf("bob's account: %d %v, want balance 4.00", st, out)
	}
}

// pageAs GETs (form nil) or POSTs a page as the member with token.
func pageAs(t *testing.T, base, path, token string, form url.Values) string {
	t.Helper()
	method, body := "GET", io.Reader(nil)
	if form != nil {
		method, body = "POST", strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, base+path, body)
	req.Header.Set("Authorization", "Bearer "+token)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
