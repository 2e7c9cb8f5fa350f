package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sxp-network/sxp/deploy/grafana"
)

// TestMetricsEndToEnd runs a circle, makes a known sequence of payments and
// intertrades, and checks that every server's /metrics moved by exactly
// what happened, that the gauges equal the database, that promtool accepts
// each exposition, and that every metric the Grafana dashboards and alert
// rules query is among what the servers export.
func TestMetricsEndToEnd(t *testing.T) {
	c := startCircle(t)
	ctx := context.Background()
	alice := c.member(c.leaf, "alice")
	c.member(c.leaf, "bob")
	c.member(c.acorn, "carol")

	_, leaf0 := c.scrape(c.leaf)
	_, clearing0 := c.scrape(c.clearing)
	_, acorn0 := c.scrape(c.acorn)

	// Three local payments of 10.00, one refused over alice's lower limit
	// (-100.00), one intertrade of 5.00 LEAF to carol@acorn and one to a
	// member acorn does not have.
	for i := 1; i <= 3; i++ {
		if st, out := c.pay(c.leaf, alice, "bob", "10.00", fmt.Sprintf("local-%d", i)); st/100 != 2 {
			t.Fatalf("payment %d: got %d %v, want 2xx", i, st, out)
		}
	}
	if st, out := c.pay(c.leaf, alice, "bob", "100.00", "too-much"); st/100 != 4 {
		t.Fatalf("payment over the limit: got %d %v, want 4xx", st, out)
	}
	if st, out := c.pay(c.leaf, alice, "carol@acorn", "5.00", "inter-1"); st/100 != 2 {
		t.Fatalf("intertrade to carol@acorn: got %d %v, want 2xx", st, out)
	}
	c.pay(c.leaf, alice, "nobody@acorn", "1.00", "inter-2") // refused by acorn, whatever status the leaf answers
	var pending int
	if !eventually(30*time.Second, func() bool {
		c.leafDB.QueryRow(ctx, `SELECT count(*) FROM intertrades WHERE state = 'pending'`).Scan(&pending)
		return pending == 0
	}) {
		t.Fatalf("leaf still has %d pending intertrades after 30 s", pending)
	}

	// The communities check their integrity with the circle every 2 s; wait
	// for a check that includes the intertrade.
	var checks int
	if !eventually(30*time.Second, func() bool {
		c.leafDB.QueryRow(ctx, `SELECT count(*) FROM intertrade_integrity_checks WHERE local_sum <> 0`).Scan(&checks)
		return checks > 0
	}) {
		t.Fatalf("leaf made no integrity check after its intertrade in 30 s")
	}

	leafText, leaf1 := c.scrape(c.leaf)
	clearingText, clearing1 := c.scrape(c.clearing)
	acornText, acorn1 := c.scrape(c.acorn)

	type check struct {
		name   string
		labels map[string]string
		delta  bool // compare the change since the first scrape
		want   float64
	}
	l := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	var (
		leafMembers, leafImportExport, vcLeaf, vcAcorn, acornImportExport float64
		leafPosted, leafVolume, leafVoided                                float64
	)
	scan := func(row interface{ Scan(...any) error }, dst *float64) {
		t.Helper()
		var v int64
		if err := row.Scan(&v); err != nil {
			t.Fatal(err)
		}
		*dst = float64(v)
	}
	scan(c.leafDB.QueryRow(ctx, `SELECT count(*) FROM members WHERE status = 'active'`), &leafMembers)
	var ok bool
	if err := c.leafDB.QueryRow(ctx, `SELECT ok FROM intertrade_integrity_checks ORDER BY id DESC LIMIT 1`).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	leafIntegrity := map[bool]string{true: "ok", false: "mismatch"}[ok]
	scan(c.leafDB.QueryRow(ctx, `SELECT balance FROM ledger_accounts WHERE code = 'intertrade:import-export'`), &leafImportExport)
	scan(c.acornDB.QueryRow(ctx, `SELECT balance FROM ledger_accounts WHERE code = 'intertrade:import-export'`), &acornImportExport)
	scan(c.clearingDB.QueryRow(ctx, `SELECT a.balance FROM ledger_accounts a JOIN clearing_communities c ON c.account_id = a.id WHERE c.id = 'leaf'`), &vcLeaf)
	scan(c.clearingDB.QueryRow(ctx, `SELECT a.balance FROM ledger_accounts a JOIN clearing_communities c ON c.account_id = a.id WHERE c.id = 'acorn'`), &vcAcorn)
	scan(c.clearingDB.QueryRow(ctx, `SELECT count(*) FROM clearing_intertrades WHERE status = 'posted' AND payer_community = 'leaf'`), &leafPosted)
	scan(c.clearingDB.QueryRow(ctx, `SELECT COALESCE(sum(quantity), 0) FROM clearing_intertrades WHERE status = 'posted' AND payer_community = 'leaf'`), &leafVolume)
	scan(c.clearingDB.QueryRow(ctx, `SELECT count(*) FROM clearing_intertrades WHERE status IN ('voided', 'expired') AND payer_community = 'leaf'`), &leafVoided)
	// The database agrees with what happened: 5.00 LEAF = 5.00 VAL = 2.50 ACORN.
	for _, d := range []struct {
		name      string
		got, want float64
	}{
		{"active leaf members (ada, alice, bob)", leafMembers, 3},
		{"leaf import/export balance", leafImportExport, 500},
		{"acorn import/export balance", acornImportExport, -250},
		{"leaf virtual customer", vcLeaf, -500},
		{"acorn virtual customer", vcAcorn, 500},
		{"posted intertrades from leaf", leafPosted, 1},
		{"their volume", leafVolume, 500},
	} {
		if d.got != d.want {
			t.Errorf("database: %s: got %v, want %v", d.name, d.got, d.want)
		}
	}

	servers := []struct {
		server        string
		before, after map[string]*dto.MetricFamily
		checks        []check
	}{
		{"leaf", leaf0, leaf1, []check{
			{"sxp_ledger_transfers_total", l("kind", "payment"), true, 3},
			{"sxp_ledger_transfer_amount_total", l("kind", "payment"), true, 3000},
			{"sxp_ledger_refusals_total", l("code", "over_lower_limit"), true, 1},
			{"sxp_http_requests_total", l("route", "/api/v1/payments", "method", "POST"), true, 6},
			{"sxp_community_members", l("status", "active"), false, leafMembers},
			{"sxp_community_intertrades_total", l("direction", "out", "result", "completed"), false, 1},
			{"sxp_community_intertrades_total", l("direction", "out", "result", "failed"), false, 1},
			{"sxp_community_intertrades_pending", l("direction", "out"), false, 0},
			{"sxp_community_intertrade_volume_total", l("direction", "out"), false, 5},
			{"sxp_community_intertrade_amount_total", l("direction", "out"), false, 500},
			{"sxp_community_import_export_balance", nil, false, leafImportExport},
			{"sxp_database_up", nil, false, 1},
			{"sxp_community_integrity", l("state", leafIntegrity), false, 1},
			{"sxp_community_circle_handshake_ok", nil, false, 1},
		}},
		{"clearing", clearing0, clearing1, []check{
			{"sxp_clearing_intertrades_total", l("community", "leaf", "direction", "out"), false, leafPosted},
			{"sxp_clearing_intertrades_total", l("community", "acorn", "direction", "in"), false, 1},
			{"sxp_clearing_intertrade_volume_total", l("community", "leaf", "direction", "out"), false, leafVolume},
			{"sxp_clearing_intertrade_failures_total", l("community", "leaf"), false, leafVoided},
			// nobody@acorn: refused by acorn at the really=true relay (the only try, issue 15), so voided with 25.
			{"sxp_clearing_intertrade_failures_total", l("community", "leaf", "code", "25"), false, 1},
			{"sxp_clearing_community_balance", l("community", "leaf"), false, vcLeaf},
			{"sxp_clearing_community_balance", l("community", "acorn"), false, vcAcorn},
			{"sxp_clearing_community_limit_min", l("community", "leaf"), false, -100000},
			{"sxp_clearing_community_headroom", l("community", "leaf", "direction", "spend"), false, vcLeaf + 100000},
			{"sxp_clearing_community_rate", l("community", "acorn"), false, 2},
			{"sxp_clearing_community_blocked", l("community", "acorn"), false, 0},
			// inter-1 is relayed once (really=true: no really=false try first, issue 15); nobody@acorn once, refused (code 25, HTTP 4xx).
			{"sxp_clearing_relays_total", l("community", "acorn", "result", "ok"), true, 1},
			{"sxp_clearing_relays_total", l("community", "acorn", "result", "refused"), true, 1},
			{"sxp_clearing_relays_total", l("community", "leaf"), true, 0},
			{"sxp_clearing_relay_duration_seconds", l("community", "acorn"), true, 2},
			{"sxp_http_requests_total", l("route", "/transactions", "method", "PUT"), true, 2},
			{"sxp_http_requests_total", l("route", "/transactions", "method", "PUT", "code", "422"), true, 1},
			{"sxp_clearing_intertrades_pending", nil, false, 0},
			{"sxp_database_up", nil, false, 1},
		}},
		{"acorn", acorn0, acorn1, []check{
			{"sxp_community_intertrades_total", l("direction", "in", "result", "completed"), false, 1},
			{"sxp_community_intertrade_amount_total", l("direction", "in"), false, 250},
			{"sxp_community_import_export_balance", nil, false, acornImportExport},
			{"sxp_http_requests_total", l("route", "/transactions", "method", "PUT"), true, 2}, // the relays above
		}},
	}
	for _, s := range servers {
		for _, ck := range s.checks {
			got := value(s.after, ck.name, ck.labels)
			if ck.delta {
				got -= value(s.before, ck.name, ck.labels)
			}
			if got != ck.want {
				kind := "value"
				if ck.delta {
					kind = "change"
				}
				t.Errorf("%s: %s%v %s: got %v, want %v", s.server, ck.name, ck.labels, kind, got, ck.want)
			}
		}
	}

	t.Run("promtool check metrics", func(t *testing.T) {
		for name, text := range map[string]string{"clearing": clearingText, "leaf": leafText, "acorn": acornText} {
			promtoolCheckMetrics(t, name, text)
		}
	})

	t.Run("dashboards and alerts query exported metrics", func(t *testing.T) {
		scraped := scrapedNames(leaf1, clearing1, acorn1)
		for _, q := range repoQueries(t) {
			for _, n := range grafana.MetricNames(q.expr) {
				if !scraped[n] {
					t.Errorf("%s: %q queries %s, which no server exported after the test's traffic", q.file, q.expr, n)
				}
			}
		}
	})
}

// TestMetricsExistFromTheStart scrapes a circle before any payment: every
// metric a Grafana dashboard or an alert rule queries is already exported
// (so absent() alerts stay quiet on a healthy idle circle), with a zero
// series for each known label set: each community, each relay result.
func TestMetricsExistFromTheStart(t *testing.T) {
	c := startCircle(t)
	_, leaf := c.scrape(c.leaf)
	_, clearing := c.scrape(c.clearing)
	_, acorn := c.scrape(c.acorn)

	scraped := scrapedNames(leaf, clearing, acorn)
	for _, q := range repoQueries(t) {
		for _, n := range grafana.MetricNames(q.expr) {
			if !scraped[n] {
				t.Errorf("%s: %q queries %s, which a fresh circle does not export", q.file, q.expr, n)
			}
		}
	}

	type want struct {
		fams   map[string]*dto.MetricFamily
		server string
		name   string
		labels map[string]string
		zero   bool // the value (a histogram's count) is 0
	}
	var wants []want
	for _, com := range []string{"leaf", "acorn"} {
		for _, result := range []string{"ok", "refused", "unauthorized", "error"} {
			wants = append(wants, want{clearing, "clearing", "sxp_clearing_relays_total",
				map[string]string{"community": com, "result": result}, true})
		}
		wants = append(wants,
			want{clearing, "clearing", "sxp_clearing_relay_duration_seconds", map[string]string{"community": com}, true},
			want{clearing, "clearing", "sxp_clearing_community_reported_balance", map[string]string{"community": com}, true})
	}
	// A community checks its integrity every 2 s here: the time is 0 or the first check's.
	wants = append(wants,
		want{leaf, "leaf", "sxp_community_integrity_last_check_timestamp_seconds", nil, false},
		want{acorn, "acorn", "sxp_community_integrity_last_check_timestamp_seconds", nil, false})
	// Every background job of each server, both results (session pruning
	// runs hourly: still zero).
	for _, result := range []string{"ok", "error"} {
		for _, job := range []string{"clearing_recover", "clearing_prune_nonces", "clearing_prune_events", "clearing_schedule"} {
			wants = append(wants, want{clearing, "clearing", "sxp_job_runs_total", map[string]string{"name": job, "result": result}, false})
		}
		for _, com := range []struct {
			fams map[string]*dto.MetricFamily
			name string
		}{{leaf, "leaf"}, {acorn, "acorn"}} {
			wants = append(wants, want{com.fams, com.name, "sxp_job_runs_total", map[string]string{"name": "prune_sessions", "result": result}, true})
			for _, job := range []string{"intertrade_settle", "intertrade_reconcile", "intertrade_prune_nonces"} {
				wants = append(wants, want{com.fams, com.name, "sxp_job_runs_total", map[string]string{"name": job, "result": result}, false})
			}
		}
	}
	for _, w := range wants {
		m, ok := series(w.fams, w.name, w.labels)
		switch {
		case !ok:
			t.Errorf("%s: no series %s%v on a fresh server", w.server, w.name, w.labels)
		case w.zero && (m.GetCounter().GetValue() != 0 || m.GetGauge().GetValue() != 0 || m.GetHistogram().GetSampleCount() != 0):
			t.Errorf("%s: %s%v: got %v, want 0", w.server, w.name, w.labels, m)
		}
	}
}

// series is the series of family name with exactly the labels want.
func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) (*dto.Metric, bool) {
	for _, m := range fams[name].GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if maps.Equal(got, want) || len(got) == 0 && len(want) == 0 {
			return m, true
		}
	}
	return nil, false
}

// scrapedNames is every metric name in the scrapes, with a histogram's
// series names (_bucket, _sum, _count), and up (Prometheus records it for
// every target).
func scrapedNames(scrapes ...map[string]*dto.MetricFamily) map[string]bool {
	names := map[string]bool{"up": true}
	for _, fams := range scrapes {
		for n, f := range fams {
			names[n] = true
			if f.GetType() == dto.MetricType_HISTOGRAM {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[n+s] = true
				}
			}
		}
	}
	return names
}

// promtoolCheckMetrics lints an exposition with promtool (Debian's
// prometheus package); a missing promtool fails the test.
func promtoolCheckMetrics(t *testing.T, server, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (Debian package prometheus; deploy/test installs it): %v", err)
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics on %s's /metrics: %v\n%s", server, err, out)
	}
	if !strings.Contains(text, "sxp_http_requests_total") || !strings.Contains(text, "go_goroutines") || !strings.Contains(text, "process_cpu_seconds_total") {
		t.Errorf("%s's /metrics lacks the HTTP, Go or process metrics", server)
	}
}

type repoQuery struct{ file, expr string }

// repoQueries returns every PromQL expression of the Grafana dashboards and
// the alert rules.
func repoQueries(t *testing.T) []repoQuery {
	t.Helper()
	var out []repoQuery
	files, _ := filepath.Glob("../../deploy/grafana/dashboards/*.json")
	if len(files) != 2 {
		t.Fatalf("dashboards: got %q, want circle.json and community.json", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				if e, ok := x["expr"].(string); ok {
					out = append(out, repoQuery{filepath.Base(f), e})
				}
				for _, y := range x {
					walk(y)
				}
			case []any:
				for _, y := range x {
					walk(y)
				}
			}
		}
		var d any
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(d)
	}
	data, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "expr:") {
			continue
		}
		e := strings.TrimSpace(strings.TrimPrefix(l, "expr:"))
		if e == "|" {
			e = ""
			for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "            ") {
				i++
				e += " " + strings.TrimSpace(lines[i])
			}
		}
		out = append(out, repoQuery{"alerts.yml", e})
	}
	return out
}
