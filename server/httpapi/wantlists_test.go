package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// wantListOut is a want list as the API answers it.
type wantListOut struct {
	Offer struct {
		ID      int64  `json:"id"`
		EventID string `json:"event_id"`
	} `json:"offer"`
	Accepts []struct {
		ID      int64  `json:"id"`
		EventID string `json:"event_id"`
		Title   string `json:"title"`
		Origin  string `json:"origin"`
	} `json:"accepts"`
}

func (e *offersEnv) offer(user, title string) int64 {
	e.t.Helper()
	return e.post(user, fmt.Sprintf(`{"kind":"offer","title":%q,"category":"goods"}`, title))
}

// federatedOffer stores an offer as one from peer https://peer.example.
func (e *offersEnv) federatedOffer(n int, title string) string {
	e.t.Helper()
	id := fmt.Sprintf("https://peer.example/announcements/%d", n)
	_, err := e.pool.Exec(context.Background(), `
		INSERT INTO announcements (member_id, author, kind, title, remote_category, remote_currency, expires_at, origin, origin_id)
		VALUES (NULL, 'dora@peer', 'offer', $1, 'Goods', 'PEER', $2, 'https://peer.example', $3)`,
		title, offersNow.Add(24*60*60*1e9), id)
	if err != nil {
		e.t.Fatalf("federated offer: %v", err)
	}
	return id
}

func TestWantListsAPI(t *testing.T) {
	e := newOffersEnv(t)
	ctx := context.Background()
	bike := e.offer("alice", "Bike")
	lamp := e.offer("alice", "Lamp")
	want := e.post("alice", `{"kind":"want","title":"A sofa","category":"goods"}`)
	tent := e.offer("bob", "Tent")
	bobWant := e.post("bob", `{"kind":"want","title":"A kettle","category":"goods"}`)
	boots := e.offer("bob", "Boots")
	closed := e.offer("bob", "Old radio")
	if s, out := e.do("bob", "PATCH", fmt.Sprintf("/api/v1/announcements/%d", closed), `{"status":"closed"}`); s != http.StatusOK {
		t.Fatalf("close: got %d %s", s, out)
	}
	gone := e.offer("bob", "Gone")
	if s, out := e.do("bob", "DELETE", fmt.Sprintf("/api/v1/announcements/%d", gone), ""); s != http.StatusNoContent {
		t.Fatalf("delete: got %d %s", s, out)
	}
	canoe := e.federatedOffer(7, "Canoe")
	local := func(id int64) string { return fmt.Sprintf("http://127.0.0.1:1/announcements/%d", id) }

	path := fmt.Sprintf("/api/v1/wantlists/%d", bike)
	status, out := e.do("alice", "PUT", path, fmt.Sprintf(`{"accepts":[%q,%q,"%d"]}`, local(tent), canoe, boots))
	if status != http.StatusOK {
		t.Fatalf("PUT: got %d %s, want 200", status, out)
	}
	w := decode[wantListOut](t, out)
	var got []string
	for _, a := range w.Accepts {
		got = append(got, a.EventID+" "+a.Title+" "+a.Origin)
	}
	want3 := []string{local(tent) + " Tent local", canoe + " Canoe https://peer.example", local(boots) + " Boots local"}
	if strings.Join(got, "|") != strings.Join(want3, "|") || w.Offer.EventID != local(bike) {
		t.Fatalf("got offer %s accepts %q, want %s accepts %q", w.Offer.EventID, got, local(bike), want3)
	}

	long := make([]string, 101)
	for i := range long {
		long[i] = fmt.Sprintf("%q", local(tent))
	}
	for _, tt := range []struct {
		name, user, path, body string
		status                 int
		field, message         string
	}{
		{"someone else's offer", "bob", path, fmt.Sprintf(`{"accepts":["%d"]}`, lamp), 403, "offer", "not one of your offers"},
		{"a want on the left", "alice", fmt.Sprintf("/api/v1/wantlists/%d", want), fmt.Sprintf(`{"accepts":["%d"]}`, tent), 400, "offer", "not a live offer"},
		{"own offer", "alice", path, fmt.Sprintf(`{"accepts":["%d"]}`, lamp), 400, "accepts[0]", "your own offers"},
		{"the offer itself", "alice", path, fmt.Sprintf(`{"accepts":["%d"]}`, bike), 400, "accepts[0]", "the offer itself"},
		{"twice", "alice", path, fmt.Sprintf(`{"accepts":["%d",%q]}`, tent, local(tent)), 400, "accepts[1]", "same offer as accepts[0]"},
		{"a want", "alice", path, fmt.Sprintf(`{"accepts":["%d","%d"]}`, tent, bobWant), 400, "accepts[1]", "is a want"},
		{"closed", "alice", path, fmt.Sprintf(`{"accepts":["%d"]}`, closed), 400, "accepts[0]", "closed or expired"},
		{"deleted", "alice", path, fmt.Sprintf(`{"accepts":[%q]}`, local(gone)), 400, "accepts[0]", "no offer"},
		{"unknown peer's", "alice", path, `{"accepts":["https://other.example/announcements/1"]}`, 400, "accepts[0]", "no offer"},
		{"too long", "alice", path, `{"accepts":[` + strings.Join(long, ",") + `]}`, 400, "accepts", "at most 100"},
		{"empty", "alice", path, `{"accepts":[]}`, 400, "accepts", "DELETE"},
		{"missing", "alice", path, `{}`, 400, "accepts", "required"},
		{"no such offer", "alice", "/api/v1/wantlists/99999", `{"accepts":["1"]}`, 404, "", "no announcement"},
		{"nobody", "", path, fmt.Sprintf(`{"accepts":["%d"]}`, tent), 401, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, out := e.do(tt.user, "PUT", tt.path, tt.body)
			if status != tt.status {
				t.Fatalf("got %d %s, want %d", status, out, tt.status)
			}
			if tt.status != 401 {
				b := decode[struct {
					Error struct{ Field, Message string }
				}](t, out)
				if b.Error.Field != tt.field || !strings.Contains(b.Error.Message, tt.message) {
					t.Errorf("got field %q message %q, want %q containing %q", b.Error.Field, b.Error.Message, tt.field, tt.message)
				}
			}
			if n := e.count("wantlist_entries"); n != 3 {
				t.Errorf("got %d entries after a refusal, want the 3 stored before", n)
			}
		})
	}

	// Entries disappear with their offers: deleted here, expired at the peer.
	if s, out := e.do("bob", "DELETE", fmt.Sprintf("/api/v1/announcements/%d", tent), ""); s != http.StatusNoContent {
		t.Fatalf("delete tent: got %d %s", s, out)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE announcements SET expires_at = $1 WHERE origin_id = $2`, offersNow, canoe); err != nil {
		t.Fatal(err)
	}
	status, out = e.do("alice", "GET", "/api/v1/wantlists", "")
	lists := decode[struct{ Wantlists []wantListOut }](t, out)
	if status != 200 || len(lists.Wantlists) != 1 || len(lists.Wantlists[0].Accepts) != 1 || lists.Wantlists[0].Accepts[0].ID != boots {
		t.Fatalf("after deleting and expiring: got %d %s, want one list accepting only boots (%d)", status, out, boots)
	}
	if status, out := e.do("bob", "GET", "/api/v1/wantlists", ""); status != 200 || out != `{"wantlists":[]}` {
		t.Errorf("bob: got %d %s, want no want lists", status, out)
	}

	if status, out := e.do("bob", "DELETE", path, ""); status != http.StatusForbidden {
		t.Errorf("bob deletes alice's: got %d %s, want 403", status, out)
	}
	if status, out := e.do("alice", "DELETE", path, ""); status != http.StatusNoContent {
		t.Fatalf("DELETE: got %d %s, want 204", status, out)
	}
	if n := e.count("wantlist_entries"); n != 0 {
		t.Errorf("got %d entries after DELETE, want 0", n)
	}
	if status, _ := e.do("alice", "GET", path, ""); status != http.StatusNotFound {
		t.Errorf("GET after DELETE: got %d, want 404", status)
	}
}

func TestWantListPages(t *testing.T) {
	e := newOffersEnv(t)
	bike := e.offer("alice", "Bike")
	tent := e.offer("bob", "Tent")
	status, body := e.page("alice", "GET", fmt.Sprintf("/offers/%d", tent), nil, false)
	if status != 200 || !strings.Contains(body, "I would give") || !strings.Contains(body, fmt.Sprintf(`<option value="%d">Bike</option>`, bike)) {
		t.Fatalf("offer page: got %d, want the give form offering Bike:\n%s", status, body)
	}
	if status, body := e.page("alice", "GET", fmt.Sprintf("/offers/%d", bike), nil, false); status != 200 || strings.Contains(body, "I would give") {
		t.Errorf("own offer page: got %d, want no give form", status)
	}
	status, loc := e.page("alice", "POST", fmt.Sprintf("/offers/%d/give", tent), url.Values{"mine": {fmt.Sprint(bike)}}, true)
	if status != http.StatusSeeOther || loc != "/wantlists?done=added" {
		t.Fatalf("give: got %d %s, want 303 /wantlists?done=added", status, loc)
	}
	// Twice is refused and changes nothing.
	status, body = e.page("alice", "POST", fmt.Sprintf("/offers/%d/give", tent), url.Values{"mine": {fmt.Sprint(bike)}}, true)
	if status != http.StatusBadRequest || !strings.Contains(body, "name each offer once") || e.count("wantlist_entries") != 1 {
		t.Errorf("give twice: got %d, %d entries, want 400 and 1 entry", status, e.count("wantlist_entries"))
	}
	status, body = e.page("alice", "GET", "/wantlists", nil, false)
	if status != 200 || !strings.Contains(body, `<a href="/offers/`+fmt.Sprint(tent)+`">Tent</a>`) {
		t.Fatalf("want lists page: got %d, want Tent listed:\n%s", status, body)
	}
	if status, _ := e.page("bob", "POST", fmt.Sprintf("/wantlists/%d/delete", bike), nil, true); status != http.StatusForbidden {
		t.Errorf("bob deletes alice's: got %d, want 403", status)
	}
	if status, loc := e.page("alice", "POST", fmt.Sprintf("/wantlists/%d/delete", bike), nil, true); status != http.StatusSeeOther || e.count("wantlist_entries") != 0 {
		t.Errorf("delete: got %d %s, %d entries, want 303 and none", status, loc, e.count("wantlist_entries"))
	}
}

func TestMoneyOffers(t *testing.T) {
	e := newOffersEnv(t)
	status, out := e.do("alice", "POST", "/api/v1/announcements",
		`{"kind":"offer","title":"20 LEAF","category":"other","money":{"value":"20","currency":"LEAF"}}`)
	if status != http.StatusCreated || !strings.Contains(out, `"money":{"value":"20.00","currency":"LEAF"}`) {
		t.Fatalf("create: got %d %s, want 201 with money 20.00 LEAF", status, out)
	}
	id := decode[offerJSON](t, out).ID
	var stored int64
	if err := e.pool.QueryRow(context.Background(), `SELECT money FROM announcements WHERE id = $1`, id).Scan(&stored); err != nil || stored != 2000 {
		t.Fatalf("stored money: got %d %v, want 2000 minor units", stored, err)
	}
	if status, out := e.do("alice", "POST", "/api/v1/announcements", `{"kind":"offer","title":"Bike","category":"goods"}`); status != 201 || !strings.Contains(out, `"money":null`) {
		t.Errorf("an item: got %d %s, want money null", status, out)
	}
	for _, tt := range []struct{ name, body, field string }{
		{"another currency", `{"kind":"offer","title":"x","category":"other","money":{"value":"20","currency":"ACORN"}}`, "money.currency"},
		{"zero", `{"kind":"offer","title":"x","category":"other","money":{"value":"0","currency":"LEAF"}}`, "money.value"},
		{"negative", `{"kind":"offer","title":"x","category":"other","money":{"value":"-5","currency":"LEAF"}}`, "money.value"},
		{"too many places", `{"kind":"offer","title":"x","category":"other","money":{"value":"1.005","currency":"LEAF"}}`, "money.value"},
		{"a number", `{"kind":"offer","title":"x","category":"other","money":{"value":20,"currency":"LEAF"}}`, "money"},
		{"no currency", `{"kind":"offer","title":"x","category":"other","money":{"value":"20"}}`, "money"},
		{"a want", `{"kind":"want","title":"x","category":"other","money":{"value":"20","currency":"LEAF"}}`, "money"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.count("announcements")
			status, out := e.do("alice", "POST", "/api/v1/announcements", tt.body)
			b := decode[struct{ Error struct{ Field string } }](t, out)
			if status != 400 || b.Error.Field != tt.field {
				t.Errorf("got %d %s, want 400 naming %s", status, out, tt.field)
			}
			if n := e.count("announcements"); n != before {
				t.Errorf("got %d announcements, want %d: nothing stored", n, before)
			}
		})
	}
	// Turning a money offer into a want is refused; dropping the money is not.
	path := fmt.Sprintf("/api/v1/announcements/%d", id)
	if status, out := e.do("alice", "PATCH", path, `{"kind":"want"}`); status != 400 || !strings.Contains(out, `"field":"money"`) {
		t.Errorf("money offer to want: got %d %s, want 400 naming money", status, out)
	}
	if status, out := e.do("alice", "PATCH", path, `{"money":null,"title":"Lessons"}`); status != 200 || !strings.Contains(out, `"money":null`) {
		t.Errorf("drop money: got %d %s, want 200 money null", status, out)
	}
}
