package grafana

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"sigs.k8s.io/yaml"

	clearingmetrics "github.com/sxp-network/sxp/clearing/metrics"
	"github.com/sxp-network/sxp/ledger/jobs"
	"github.com/sxp-network/sxp/server/federation"
	"github.com/sxp-network/sxp/server/mail"
	servermetrics "github.com/sxp-network/sxp/server/metrics"
)

// recorder is a prometheus.Registerer that keeps the name of every metric
// described by what is registered on it.
type recorder struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *recorder) Unregister(prometheus.Collector) bool { return false }

// ExportedNames returns the name of every metric either server can export,
// from the descriptors of what each registers, as cmd/sxp registers it. A
// histogram's series names (_bucket, _sum, _count) are included.
func exportedNames() map[string]bool {
	r := &recorder{names: map[string]bool{}}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	clearingmetrics.New(r, nil)
	r.MustRegister(clearingmetrics.NewCommunities(nil, nil, nil))
	servermetrics.New(r)
	jobs.New(r, jobs.Options{})
	r.MustRegister(servermetrics.NewCommunity(nil, nil, nil))
	federation.RegisterMetrics(r)
	if _, err := mail.New(nil, nil, mail.Config{Registerer: r}); err != nil { // without SMTP settings: nothing opened
		panic(err)
	}
	for n := range r.names {
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			r.names[n+s] = true
		}
	}
	return r.names
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`sxp_clearing_community_balance`, []string{"sxp_clearing_community_balance"}},
		{`min by (community) (a_x) / on (community) (b - c{d="e(f)"})`, []string{"a_x", "b", "c"}},
		{`histogram_quantile(0.99, sum by (route, le) (rate(h_bucket{job="j"}[5m])))`, []string{"h_bucket"}},
		{`time() - ts > 3 * 3600 and on (community) x == 0`, []string{"ts", "x"}},
	}
	for _, tt := range tests {
		if got := MetricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("MetricNames(%q): got %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// panel is the part of a Grafana panel the test reads.
type panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource map[string]any `json:"datasource"`
	} `json:"targets"`
}

func TestDashboards(t *testing.T) {
	exported := exportedNames()
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if want := []string{"dashboards/circle.json", "dashboards/community.json"}; !slices.Equal(files, want) {
		t.Fatalf("dashboards: got %q, want %q", files, want)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				UID    string  `json:"uid"`
				Title  string  `json:"title"`
				Panels []panel `json:"panels"`
			}
			if err := json.Unmarshal(data, &d); err != nil {
				t.Fatalf("not valid JSON: %v", err)
			}
			if d.UID == "" || d.Title == "" {
				t.Errorf("uid %q, title %q: want both set", d.UID, d.Title)
			}
			var all []panel
			var walk func([]panel)
			walk = func(ps []panel) {
				for _, p := range ps {
					all = append(all, p)
					walk(p.Panels)
				}
			}
			walk(d.Panels)
			ids := map[int]bool{}
			queries := 0
			for _, p := range all {
				if ids[p.ID] {
					t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
				}
				ids[p.ID] = true
				if p.Type != "row" && len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
				for _, q := range p.Targets {
					queries++
					if q.Datasource["uid"] != "prometheus" {
						t.Errorf("panel %q query %s: datasource %v, want uid prometheus (provisioned)", p.Title, q.RefID, q.Datasource)
					}
					names := MetricNames(q.Expr)
					if len(names) == 0 {
						t.Errorf("panel %q query %s: %q names no metric", p.Title, q.RefID, q.Expr)
					}
					for _, n := range names {
						if !exported[n] {
							t.Errorf("panel %q query %s: metric %q is not exported by the servers (query %q)", p.Title, q.RefID, n, q.Expr)
						}
					}
				}
			}
			if queries < 10 {
				t.Errorf("got %d queries, want at least 10", queries)
			}
		})
	}
}

// The alert rules also name only metrics the servers export (or up, which
// Prometheus itself records for every target).
func TestAlertRulesNameExportedMetrics(t *testing.T) {
	exported := exportedNames()
	exported["up"] = true
	data, err := os.ReadFile("../prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Expr string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	if len(exprs) != 15 {
		t.Fatalf("got %d alert expressions, want 15", len(exprs))
	}
	for _, e := range exprs {
		names := MetricNames(e)
		if len(names) == 0 {
			t.Errorf("%q names no metric", e)
		}
		for _, n := range names {
			if !exported[n] {
				t.Errorf("metric %q is not exported by the servers (alert %q)", n, e)
			}
		}
	}
}

// The provisioning files agree with the dashboards and with deploy/compose:
// the datasource uid the panels name, and the folder compose mounts.
func TestProvisioning(t *testing.T) {
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ds := read("provisioning/datasources/prometheus.yaml")
	dash := read("provisioning/dashboards/sxp.yaml")
	compose := read("../compose/compose.yaml")
	tests := []struct {
		name, text, want string
	}{
		{"datasource uid used by every panel", ds, "uid: prometheus"},
		{"datasource reaches compose's prometheus service", ds, "url: http://prometheus:9090"},
		{"dashboards folder", dash, "path: /var/lib/grafana/dashboards"},
		{"compose mounts the dashboards there", compose, "../grafana/dashboards:/var/lib/grafana/dashboards"},
		{"compose mounts the provisioning", compose, "../grafana/provisioning:/etc/grafana/provisioning"},
		{"compose mounts the scrape config", compose, "../prometheus/prometheus.yml:/etc/prometheus/prometheus.yml"},
		{"compose mounts the alert rules next to it", compose, "../prometheus/alerts.yml:/etc/prometheus/alerts.yml"},
	}
	for _, tt := range tests {
		if !strings.Contains(tt.text, tt.want) {
			t.Errorf("%s: %q not found", tt.name, tt.want)
		}
	}
}
