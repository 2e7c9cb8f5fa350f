package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sxp-network/sxp/clearing"
	"github.com/sxp-network/sxp/clearing/app"
	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/cxptest"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
	"github.com/sxp-network/sxp/clearing/httpapi"
	"github.com/sxp-network/sxp/ledger"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

const (
	circleID   = "circle"
	adminToken = "test-admin-token"
)

// env is a clearing house on its own database behind an httptest server,
// and fake community servers whose relay endpoints verify the circle's
// signature.
type env struct {
	t     *testing.T
	pool  *pgxpool.Pool
	house *clearing.House
	srv   *httptest.Server
	coms  map[string]*cxptest.Community
}

func refuse(code cxp.Code, args map[string]string) func(cxp.TransactionRequest) (int, any) {
	e := cxp.NewError(code, args)
	return func(cxp.TransactionRequest) (int, any) { return e.HTTPStatus(), e.Status() }
}

// newEnv starts a clearing house with circle "circle" (unit HOUR, 2
// divisions) and communities a (rate 1) and b (rate 2), limits -100..100.
func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with the HTTP layer's options changed by change.
func newEnvWith(t *testing.T, change func(*httpapi.Options)) *env {
	return newEnvConfig(t, app.Config{HTTPOptions: change})
}

// newEnvConfig builds the clearing house through app.New with cfg (its
// secret, admin token and public URL filled in) on a database whose circle
// is initialised, behind an httptest server, with communities a and b.
func newEnvConfig(t *testing.T, cfg app.Config) *env {
	t.Helper()
	pool := pgtest.NewPool(t)
	initCircle(t, pool)
	srv := httptest.NewUnstartedServer(nil)
	cfg.PublicURL = "http://" + srv.Listener.Addr().String()
	cfg.Secret, cfg.AdminToken = "test secret", adminToken
	a, err := app.New(context.Background(), cfg, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	e := &env{t: t, pool: pool, house: a.House, srv: srv, coms: map[string]*cxptest.Community{}}
	e.addCommunity("a", "1", -10000, 10000)
	e.addCommunity("b", "2", -10000, 10000)
	return e
}

// initCircle does what `sxp admin circle init circle --unit HOUR` does.
func initCircle(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	house, err := clearing.New(pool, ledger.New(pool, ledger.Options{}), clearing.Options{Secret: "test secret"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := house.InitCircle(context.Background(), "test", circleID, "Test circle", "HOUR", 2); err != nil {
		t.Fatal(err)
	}
}

func (e *env) addCommunity(id, ticks string, min, max int64) *cxptest.Community {
	e.t.Helper()
	c := cxptest.NewCommunity(e.t, circleID)
	_, key, err := e.house.AddCommunity(context.Background(), "test", clearing.NewCommunity{
		ID: id, Name: "Community " + id, URI: c.URL, Ticks: ticks, Min: min, Max: max})
	if err != nil {
		e.t.Fatal(err)
	}
	c.SetKey(key)
	e.coms[id] = c
	return c
}

// call sends a request signed by community id (with its key unless key is
// given) and returns the HTTP status and the decoded answer.
func (e *env) call(id, method, path string, body any, key ...string) (int, map[string]any) {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	if raw == nil {
		req.Body = nil
	}
	k := ""
	if c, ok := e.coms[id]; ok {
		k = c.Key()
	}
	if len(key) > 0 {
		k = key[0]
	}
	if id != "" {
		if err := (httpsig.Signer{KeyID: id, Key: []byte(k)}).Sign(req, raw); err != nil {
			e.t.Fatal(err)
		}
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		e.t.Fatalf("%s %s: answer is not JSON (%d): %s", req.Method, req.URL, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// admin sends an admin API request with the bearer token.
func (e *env) admin(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return e.do(req)
}

// balance is a community's virtual customer balance and holds, in minor units.
func (e *env) balance(id string) (balance, pendingDebits, pendingCredits int64) {
	e.t.Helper()
	c, err := e.house.Community(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Balance, c.PendingDebits, c.PendingCredits
}

func (e *env) wantBalances(want map[string]int64) {
	e.t.Helper()
	for id, w := range want {
		b, pd, pc := e.balance(id)
		if b != w || pd != 0 || pc != 0 {
			e.t.Errorf("community %s: got balance %d (held %d/%d), want %d with nothing held", id, b, pd, pc, w)
		}
	}
}

// tx is a try from community a to community b.
func (e *env) tx(qty string, tempID string, really bool) map[string]any {
	return map[string]any{
		"payer": "alice", "payer_url": e.coms["a"].URL, "payee": "bob", "payee_url": e.coms["b"].URL,
		"src_url": e.coms["a"].URL, "dest_url": e.coms["b"].URL,
		"quantity": json.Number(qty), "description": "apples", "really": really, "temp_id": tempID,
	}
}

func code(out map[string]any) string {
	if n, ok := out["code"].(json.Number); ok {
		return n.String()
	}
	return "<none>"
}

func str(out map[string]any, key string) string {
	switch v := out[key].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func args(out map[string]any) map[string]any {
	a, _ := out["args"].(map[string]any)
	return a
}
