package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/goccy/go-yaml"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/clearing/httpapi"
)

// asker is a community asking to join: its Ed25519 key, its X25519 key
// pair and its request.
type asker struct {
	priv            ed25519.PrivateKey
	boxPub, boxPriv *[32]byte
	req             cxp.JoinRequest
}

func newAsker(t *testing.T, id, base string) *asker {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bp, bs, err := cxp.NewBoxKey()
	if err != nil {
		t.Fatal(err)
	}
	return &asker{priv: priv, boxPub: bp, boxPriv: bs, req: cxp.JoinRequest{ID: id, Name: "Community " + id, Currency: "OAK",
		Divisions: 2, BaseURL: base, Rate: "0.5", KeyID: base + "#k1", PublicKey: base64.StdEncoding.EncodeToString(pub),
		BoxKey: base64.StdEncoding.EncodeToString(bp[:])}}
}

// signed is a request signed by the asker's key (body nil: none).
func (a *asker) signed(t *testing.T, method, url string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	if err := (httpsig.Signer{KeyID: a.req.KeyID, Alg: httpsig.AlgEd25519, Ed25519Key: a.priv, Label: cxp.JoinLabel}).Sign(req, body); err != nil {
		t.Fatal(err)
	}
	return req
}

func (a *asker) ask(e *env) (int, map[string]any) {
	e.t.Helper()
	b, _ := json.Marshal(a.req)
	return e.do(a.signed(e.t, "POST", e.srv.URL+"/join/v1/requests", b))
}

func (a *asker) poll(e *env, id string) (int, map[string]any) {
	e.t.Helper()
	return e.do(a.signed(e.t, "GET", e.srv.URL+"/join/v1/requests/"+id, nil))
}

func joinRows(t *testing.T, e *env) (joins, communities, keys int) {
	t.Helper()
	err := e.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM clearing_join_requests),
		(SELECT count(*) FROM clearing_communities), (SELECT count(*) FROM clearing_keys)`).Scan(&joins, &communities, &keys)
	if err != nil {
		t.Fatal(err)
	}
	return
}

// TestJoinRequest: a request to join is checked, signed by its own key,
// stored once; approving seals exactly the credentials CXP needs: the key
// they hold signs a handshake that the circle accepts as the current key.
func TestJoinRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	oak := newAsker(t, "oak", "http://oak.example")

	// Bad fields: 400 naming the field; nothing stored.
	for _, tc := range []struct {
		field  string
		change func(*cxp.JoinRequest)
	}{
		{"id", func(r *cxp.JoinRequest) { r.ID = "no spaces" }},
		{"name", func(r *cxp.JoinRequest) { r.Name = " " }},
		{"currency", func(r *cxp.JoinRequest) { r.Currency = "oak" }},
		{"divisions", func(r *cxp.JoinRequest) { r.Divisions = 9 }},
		{"base_url", func(r *cxp.JoinRequest) { r.BaseURL = "ftp://oak.example" }},
		{"rate", func(r *cxp.JoinRequest) { r.Rate = "0" }},
		{"keyid", func(r *cxp.JoinRequest) { r.KeyID = "http://elsewhere.example#k1" }},
		{"public_key", func(r *cxp.JoinRequest) { r.PublicKey = "AAAA" }},
		{"box_key", func(r *cxp.JoinRequest) { r.BoxKey = base64.StdEncoding.EncodeToString(make([]byte, 31)) }},
	} {
		bad := *oak
		tc.change(&bad.req)
		st, out := bad.ask(e)
		if st != 400 || str(out["error"].(map[string]any), "field") != tc.field {
			t.Errorf("bad %s: got %d %v, want 400 naming %s", tc.field, st, out, tc.field)
		}
	}
	unknown := `{"id":"oak","extra":1}`
	if st, out := e.do(oak.signed(t, "POST", e.srv.URL+"/join/v1/requests", []byte(unknown))); st != 400 {
		t.Errorf("an unknown field: got %d %v, want 400", st, out)
	}
	big := bytes.Repeat([]byte(" "), 16<<10+1)
	if st, out := e.do(oak.signed(t, "POST", e.srv.URL+"/join/v1/requests", big)); st != 413 {
		t.Errorf("a body over 16 KiB: got %d %v, want 413", st, out)
	}
	if j, c, k := joinRows(t, e); j != 0 || c != 2 || k != 2 {
		t.Fatalf("after refused requests: %d requests, %d communities, %d keys; want 0, 2, 2", j, c, k)
	}

	// A replayed request (the same signature) is refused.
	b, _ := json.Marshal(oak.req)
	req := oak.signed(t, "POST", e.srv.URL+"/join/v1/requests", b)
	replay := req.Clone(ctx)
	replay.Body, replay.ContentLength = http.NoBody, int64(len(b))
	st, out := e.do(req)
	if st != http.StatusAccepted || str(out, "state") != "pending" {
		t.Fatalf("oak asks: got %d %v, want 202 pending", st, out)
	}
	id := str(out, "request")
	replay.Body = nopBody(b)
	if st, out := e.do(replay); st != http.StatusUnauthorized {
		t.Errorf("the same signed request again: got %d %v, want 401 (nonce seen)", st, out)
	}
	if st, out := oak.ask(e); st != http.StatusOK || str(out, "request") != id {
		t.Errorf("oak asks again: got %d %v, want 200 request %s", st, out, id)
	}
	// The same key asks again with a new delivery key (its answer was lost):
	// the waiting request takes it. Another key asking as oak: a conflict.
	newBoxPub, newBoxPriv, _ := cxp.NewBoxKey()
	oak.req.BoxKey, oak.boxPub, oak.boxPriv = base64.StdEncoding.EncodeToString(newBoxPub[:]), newBoxPub, newBoxPriv
	if st, out := oak.ask(e); st != http.StatusOK || str(out, "request") != id {
		t.Errorf("oak asks again with a new delivery key: got %d %v, want 200 request %s", st, out, id)
	}
	if st, out := newAsker(t, "oak", "http://oak.example").ask(e); st != http.StatusConflict {
		t.Errorf("another key asking as oak: got %d %v, want 409", st, out)
	}
	if j, _, _ := joinRows(t, e); j != 1 {
		t.Errorf("requests stored: got %d, want 1", j)
	}
	// Asking as a community that is in the circle already.
	a := newAsker(t, "a", e.coms["a"].URL)
	if st, out := a.ask(e); st != http.StatusConflict {
		t.Errorf("asking as a, which is in the circle: got %d %v, want 409", st, out)
	}

	// Polls: only by the request's key.
	other := newAsker(t, "oak", "http://oak.example")
	if st, out := other.poll(e, id); st != http.StatusUnauthorized {
		t.Errorf("a poll by another key: got %d %v, want 401", st, out)
	}
	if st, out := oak.poll(e, id); st != 200 || str(out, "state") != "pending" || str(out, "credentials") != "" {
		t.Errorf("oak polls: got %d %v, want 200 pending without credentials", st, out)
	}
	if st, out := oak.poll(e, "999"); st != 404 {
		t.Errorf("a poll of no request: got %d %v, want 404", st, out)
	}

	// Approve: the credentials open with oak's X25519 key only.
	n, _ := strconv.ParseInt(id, 10, 64)
	if _, err := e.house.ApproveJoin(ctx, "test", n, clearing.JoinApproval{Ticks: "0.5", Min: -5000, Max: 5000, CircleURL: e.srv.URL}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.house.RefuseJoin(ctx, "test", n, "too late"); err == nil {
		t.Error("refusing an approved request: got no error")
	}
	st, out = oak.poll(e, id)
	if st != 200 || str(out, "state") != "approved" {
		t.Fatalf("oak polls after the approval: got %d %v", st, out)
	}
	sealed, err := base64.StdEncoding.DecodeString(str(out, "credentials"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cxp.OpenCredentials(sealed, other.boxPub, other.boxPriv); err == nil {
		t.Error("the credentials opened with another X25519 key")
	}
	creds, err := cxp.OpenCredentials(sealed, oak.boxPub, oak.boxPriv)
	if err != nil {
		t.Fatal(err)
	}
	if creds.CircleID != circleID || creds.CommunityID != "oak" || creds.Ticks != "0.5" || creds.CircleURL != e.srv.URL ||
		creds.Min != "-50.00" || creds.Max != "50.00" || creds.Unit != "HOUR" {
		t.Errorf("credentials: got %+v", creds)
	}
	hs := map[string]any{"api": 1, "mail": "x@oak", "ticks": 0.5, "uri": "http://oak.example"}
	if _, out := e.call("oak", "POST", "/server", hs, creds.Key); code(out) != "0" || str(out, "keymatch") != "true" {
		t.Errorf("a handshake signed with the sealed key: got %v, want code 0 with keymatch true", out)
	}
	if j, c, k := joinRows(t, e); j != 1 || c != 3 || k != 3 {
		t.Errorf("after the approval: %d requests, %d communities, %d keys; want 1, 3, 3", j, c, k)
	}
}

// TestJoinRequestLimits: at most 20 requests at once from one address (then
// 429 with Retry-After), and at most MaxPendingJoins waiting (then 503).
func TestJoinRequestLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 20 {
		if st, out := newAsker(t, "c"+strconv.Itoa(i), "http://c"+strconv.Itoa(i)+".example").ask(e); st != http.StatusAccepted {
			t.Fatalf("request %d: got %d %v", i, st, out)
		}
	}
	b, _ := json.Marshal(newAsker(t, "late", "http://late.example").req)
	resp, err := http.DefaultClient.Do(newAsker(t, "late", "http://late.example").signed(t, "POST", e.srv.URL+"/join/v1/requests", b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("the 21st request at once: got %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// The cap on waiting requests, through the domain (no address limit there).
	for i := 20; i < clearing.MaxPendingJoins; i++ {
		r, err := clearing.CheckJoinRequest(newAsker(t, "c"+strconv.Itoa(i), "http://c"+strconv.Itoa(i)+".example").req)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.house.RequestJoin(context.Background(), r); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	r, _ := clearing.CheckJoinRequest(newAsker(t, "one-more", "http://one-more.example").req)
	if _, _, err := e.house.RequestJoin(context.Background(), r); err == nil || !strings.Contains(err.Error(), "too many requests") {
		t.Errorf("request %d: got %v, want too many waiting", clearing.MaxPendingJoins+1, err)
	}
}

// TestOpenAPIDocumentsJoin checks that the join routes are in openapi.yaml.
func TestOpenAPIDocumentsJoin(t *testing.T) {
	raw, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	engine := httpapi.New(nil, httpapi.Options{PublicURL: "http://127.0.0.1"}).Handler().(*gin.Engine)
	param := regexp.MustCompile(`:([a-z_]+)`)
	found := 0
	for _, r := range engine.Routes() {
		if !strings.HasPrefix(r.Path, "/join/") {
			continue
		}
		found++
		if _, ok := doc.Paths[param.ReplaceAllString(r.Path, "{$1}")][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is not in openapi.yaml", r.Method, r.Path)
		}
	}
	if found != 2 {
		t.Errorf("got %d join routes, want 2", found)
	}
}

type bodyReader struct{ *bytes.Reader }

func (bodyReader) Close() error { return nil }

func nopBody(b []byte) bodyReader { return bodyReader{bytes.NewReader(b)} }

// TestJoinAdminAPI: the admin API lists requests, approves one with a rate
// and limits (bad limits refused, nothing written) and refuses another.
func TestJoinAdminAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	oak, elm := newAsker(t, "oak", "http://oak.example"), newAsker(t, "elm", "http://elm.example")
	_, o := oak.ask(e)
	_, l := elm.ask(e)
	oakID, elmID := str(o, "request"), str(l, "request")
	st, out := e.admin("GET", "/admin/api/joins", nil)
	pending, _ := out["pending"].([]any)
	if st != 200 || len(pending) != 2 || str(pending[0].(map[string]any), "community_id") != "oak" ||
		len(str(pending[0].(map[string]any), "key_fingerprint")) != 16 {
		t.Fatalf("list: got %d %v", st, out)
	}
	if st, out := e.admin("POST", "/admin/api/joins/"+oakID+"/approve", map[string]string{"rate": "0.5", "min": "1", "max": "10"}); st != 400 {
		t.Errorf("approve with a positive lower limit: got %d %v, want 400", st, out)
	}
	if _, c, _ := joinRows(t, e); c != 2 {
		t.Fatalf("after a refused approval: %d communities, want 2", c)
	}
	st, out = e.admin("POST", "/admin/api/joins/"+oakID+"/approve", map[string]string{"rate": "0.75", "min": "-10", "max": "10"})
	if st != 200 || str(out, "state") != "approved" {
		t.Fatalf("approve: got %d %v", st, out)
	}
	com, err := e.house.Community(context.Background(), "oak")
	if err != nil || com.Ticks != "0.75" || com.Min != -1000 || com.Max != 1000 {
		t.Errorf("oak: got %+v %v, want rate 0.75, limits -1000..1000", com, err)
	}
	if st, out := e.admin("POST", "/admin/api/joins/"+oakID+"/refuse", map[string]string{"reason": "changed my mind"}); st != 409 {
		t.Errorf("refusing the approved request: got %d %v, want 409", st, out)
	}
	if st, out := e.admin("POST", "/admin/api/joins/"+elmID+"/refuse", map[string]string{"reason": " "}); st != 400 {
		t.Errorf("refuse without a reason: got %d %v, want 400", st, out)
	}
	if st, out := e.admin("POST", "/admin/api/joins/"+elmID+"/refuse", map[string]string{"reason": "unknown to us"}); st != 200 || str(out, "state") != "refused" {
		t.Errorf("refuse: got %d %v", st, out)
	}
	if st, out := elm.poll(e, elmID); st != 200 || str(out, "state") != "refused" || str(out, "reason") != "unknown to us" {
		t.Errorf("elm's poll: got %d %v", st, out)
	}
	var actions []string
	rows, err := e.pool.Query(context.Background(), `SELECT action || ':' || subject FROM clearing_audit WHERE action LIKE 'join.%' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		rows.Scan(&a)
		actions = append(actions, a)
	}
	rows.Close()
	if got := strings.Join(actions, ","); got != "join.approve:oak,join.refuse:elm" {
		t.Errorf("audit: got %s, want join.approve:oak,join.refuse:elm", got)
	}
}

// TestJoinRequestConcurrentRepeats: the same request sent eight times at
// once is stored once; every answer names it.
func TestJoinRequestConcurrentRepeats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	oak := newAsker(t, "oak", "http://oak.example")
	ids := make(chan string, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(oak.req)
			resp, err := http.DefaultClient.Do(oak.signed(t, "POST", e.srv.URL+"/join/v1/requests", b))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var st cxp.JoinStatus
			json.NewDecoder(resp.Body).Decode(&st)
			if resp.StatusCode != 200 && resp.StatusCode != 202 {
				t.Errorf("got %d", resp.StatusCode)
			}
			ids <- strconv.FormatInt(st.Request, 10)
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]int{}
	for id := range ids {
		seen[id]++
	}
	if j, _, _ := joinRows(t, e); j != 1 || len(seen) != 1 {
		t.Errorf("got %d rows and answers %v, want 1 row named by all 8", j, seen)
	}
}
