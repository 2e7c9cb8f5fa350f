package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct {
		name, header string
		status       int
	}{
		{"no token", "", 401},
		{"wrong token", "Bearer nope", 401},
		{"not bearer", "Basic " + adminToken, 401},
		{"server token", "Bearer " + adminToken, 200},
	} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/admin/api/communities", nil)
		if tt.header != "" {
			req.Header.Set("Authorization", tt.header)
		}
		if status, _ := e.do(req); status != tt.status {
			t.Errorf("%s: got %d, want %d", tt.name, status, tt.status)
		}
	}
	tok, err := e.house.AddAdminToken(context.Background(), "test", "ops")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/admin/api/communities/a/block", strings.NewReader(`{"reason":"audit me"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	if status, out := e.do(req); status != 200 || out["status"] != "blocked" {
		t.Fatalf("block with a stored token: got %d %v", status, out)
	}
	entries, _ := e.house.Audit(context.Background(), 0, 1)
	if len(entries) != 1 || entries[0].Actor != "token:ops" || entries[0].Action != "community.block" || entries[0].Subject != "a" {
		t.Fatalf("audit: got %+v, want token:ops blocking a", entries)
	}
	if err := e.house.RevokeAdminToken(context.Background(), "test", "ops"); err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/admin/api/circle", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if status, _ := e.do(req); status != 401 {
		t.Fatalf("revoked token: got %d, want 401", status)
	}
}

func TestAdminCommunityLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, out := e.admin("POST", "/admin/api/communities", map[string]string{"id": "c", "name": "Community c",
		"uri": "http://127.0.0.1:9/c", "rate": "0.5", "min": "-20.00", "max": "30"})
	if status != 201 || str(out, "key") == "" {
		t.Fatalf("add: got %d %v", status, out)
	}
	com, _ := out["community"].(map[string]any)
	if str(com, "min") != "-20.00" || str(com, "max") != "30.00" || str(com, "ticks") != "0.5" || str(com, "balance") != "0.00" {
		t.Fatalf("added community: got %v", com)
	}
	for _, tt := range []struct {
		name   string
		body   map[string]string
		status int
		field  string
	}{
		{"duplicate id", map[string]string{"id": "c", "name": "x", "uri": "http://127.0.0.1:9/other", "rate": "1", "min": "0", "max": "0"}, 409, "id"},
		{"duplicate uri", map[string]string{"id": "d", "name": "x", "uri": "http://127.0.0.1:9/c", "rate": "1", "min": "0", "max": "0"}, 409, "uri"},
		{"over-precise min", map[string]string{"id": "d", "name": "x", "uri": "http://127.0.0.1:9/d", "rate": "1", "min": "-1.001", "max": "0"}, 400, "min"},
		{"zero rate", map[string]string{"id": "d", "name": "x", "uri": "http://127.0.0.1:9/d", "rate": "0", "min": "0", "max": "0"}, 400, "rate"},
		{"bad uri", map[string]string{"id": "d", "name": "x", "uri": "ftp://x", "rate": "1", "min": "0", "max": "0"}, 400, "uri"},
		{"positive min", map[string]string{"id": "d", "name": "x", "uri": "http://127.0.0.1:9/d", "rate": "1", "min": "1", "max": "2"}, 400, "min"},
	} {
		status, out := e.admin("POST", "/admin/api/communities", tt.body)
		errObj, _ := out["error"].(map[string]any)
		if status != tt.status || str(errObj, "field") != tt.field {
			t.Errorf("%s: got %d %v, want %d on field %s", tt.name, status, out, tt.status, tt.field)
		}
	}
	if status, out := e.admin("POST", "/admin/api/communities", map[string]any{"id": "d", "bogus": 1}); status != 400 {
		t.Errorf("unknown field: got %d %v, want 400", status, out)
	}

	// Limits override, rate, block and unblock, each audited.
	if status, out := e.admin("PUT", "/admin/api/communities/c/limits", map[string]string{"min": "-5", "max": "5.5"}); status != 200 ||
		str(out, "min") != "-5.00" || str(out, "max") != "5.50" || str(out, "limits_override") != "true" {
		t.Fatalf("limits: got %d %v", status, out)
	}
	if status, out := e.admin("PUT", "/admin/api/communities/c/rate", map[string]string{"ticks": "0.75"}); status != 200 || str(out, "ticks") != "0.75" {
		t.Fatalf("rate: got %d %v", status, out)
	}
	if status, _ := e.admin("POST", "/admin/api/communities/c/rate/approve", nil); status != 409 {
		t.Fatalf("approve without a declaration: got %d, want 409", status)
	}
	if status, _ := e.admin("POST", "/admin/api/communities/c/block", map[string]string{"reason": ""}); status != 400 {
		t.Fatalf("block without a reason: got %d, want 400", status)
	}
	if status, out := e.admin("POST", "/admin/api/communities/zz/block", map[string]string{"reason": "x"}); status != 404 {
		t.Fatalf("block unknown: got %d %v, want 404", status, out)
	}
	status, out = e.admin("POST", "/admin/api/communities/c/keys", map[string]string{"overlap": "1h"})
	if status != 200 || str(out, "key") == "" {
		t.Fatalf("rotate: got %d %v", status, out)
	}
	_, out = e.admin("GET", "/admin/api/communities/c/keys", nil)
	if keys, _ := out["keys"].([]any); len(keys) != 2 {
		t.Fatalf("keys after rotation: got %v, want 2", out)
	}
	_, out = e.admin("GET", "/admin/api/audit", nil)
	entries, _ := out["entries"].([]any)
	var actions []string
	for _, x := range entries {
		actions = append(actions, str(x.(map[string]any), "action"))
	}
	want := "community.key_rotate community.rate community.limits community.add community.add community.add circle.init"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("audit actions: got %q, want %q", got, want)
	}
	first := entries[2].(map[string]any)
	if str(first, "actor") != "admin" || str(first["before"].(map[string]any), "min") != "-2000" || str(first["after"].(map[string]any), "max") != "550" {
		t.Fatalf("limits audit entry: got %v", first)
	}
}

func TestAdminReports(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.call("a", "PUT", "/transactions", e.tx("10", "x1", true))
	e.call("a", "PUT", "/transactions", e.tx("5.25", "x2", true))
	e.call("b", "PUT", "/transactions", map[string]any{"payer": "bob", "payee": "alice", "src_url": e.coms["b"].URL,
		"dest_url": e.coms["a"].URL, "quantity": json.Number("1"), "description": "back", "really": true, "temp_id": "x3"})
	_, out := e.admin("GET", "/admin/api/reports/summary?period=day", nil)
	totals, _ := out["totals"].(map[string]any)
	if str(totals, "count") != "3" || str(totals, "quantity") != "16.25" {
		t.Fatalf("summary totals: got %v", out["totals"])
	}
	matrix, _ := out["matrix"].([]any)
	if len(matrix) != 2 || str(matrix[0].(map[string]any), "quantity") != "15.25" || str(matrix[1].(map[string]any), "payer") != "b" {
		t.Fatalf("matrix: got %v", matrix)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/admin/api/reports/summary?format=csv&part=matrix", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "payer,payee,count,quantity\na,b,2,15.25\nb,a,1,1.00\n"; string(body) != want {
		t.Fatalf("matrix CSV: got %q, want %q", body, want)
	}
	_, out = e.admin("GET", "/admin/api/communities/a/statement", nil)
	lines, _ := out["lines"].([]any)
	if len(lines) != 3 || str(out, "closing") != "-14.25" || str(lines[0].(map[string]any), "amount") != "-10.00" ||
		str(lines[2].(map[string]any), "counterparty") != "b" || str(lines[2].(map[string]any), "balance") != "-14.25" {
		t.Fatalf("statement: got %v", out)
	}
	for _, bad := range []string{"/admin/api/reports/summary?format=xml", "/admin/api/reports/summary?period=hour",
		"/admin/api/reports/summary?from=yesterday", "/admin/api/audit?limit=abc", "/admin/api/intertrades?before=-1",
		"/admin/api/communities/a/statement?format=pdf", "/admin/api/monitoring?near_percent=0"} {
		if status, _ := e.admin("GET", bad, nil); status != 400 {
			t.Errorf("GET %s: got %d, want 400", bad, status)
		}
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/admin/api/records", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, _ = http.DefaultClient.Do(req)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(body), "\n"); n != 3 {
		t.Fatalf("records: got %d lines, want 3", n)
	}
}

func TestMonitoringAlerts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.call("a", "PUT", "/transactions", e.tx("95", "m1", true)) // a at -95 of -100: near its limit
	e.house.Block(context.Background(), "test", "b", "investigation")
	e.call("b", "GET", "/server/clients", nil) // blocked traffic
	for i := 0; i < 5; i++ {                   // a burst of refused tries from a
		if _, out := e.call("a", "PUT", "/transactions", e.tx("0", "z", true)); code(out) != "12" {
			t.Fatalf("refused try: got %v, want code 12", out)
		}
	}
	_, out := e.admin("GET", "/admin/api/monitoring", nil)
	alerts, _ := out["alerts"].([]any)
	var got []string
	for _, a := range alerts {
		m := a.(map[string]any)
		got = append(got, str(m, "kind")+":"+str(m, "community"))
	}
	want := "near_limit:a near_limit:b blocked:b reject_spike:a blocked_traffic:b"
	if strings.Join(got, " ") != want {
		t.Fatalf("alerts: got %q, want %q", strings.Join(got, " "), want)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: got %d, want 200", path, resp.StatusCode)
		}
	}
	status, out := e.call("", "GET", "/nowhere", nil)
	if status != 404 || code(out) != "27" {
		t.Errorf("unknown route: got %d %v", status, out)
	}
}

// TestLandingPage: the clearing house's address, as deploy/run prints it,
// answers a page naming the circle that leads to the admin pages, not a
// CXP error.
func TestLandingPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(b), `href="/admin"`) || strings.Contains(string(b), "no route") {
		t.Fatalf("GET /: got %d %q %s, want 200, an HTML page linking to /admin", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}
