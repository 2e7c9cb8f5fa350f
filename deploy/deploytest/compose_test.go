package deploytest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// composeService holds the fields of a compose service that the file uses.
// Decoding is strict: a misspelt or unexpected key fails the test.
type composeService struct {
	Image       string                       `json:"image"`
	Build       *composeBuild                `json:"build"`
	Restart     string                       `json:"restart"`
	Entrypoint  []string                     `json:"entrypoint"`
	Command     []string                     `json:"command"`
	Environment map[string]string            `json:"environment"`
	Volumes     []string                     `json:"volumes"`
	Ports       []string                     `json:"ports"`
	Profiles    []string                     `json:"profiles"`
	Healthcheck *composeHealthcheck          `json:"healthcheck"`
	DependsOn   map[string]composeDependency `json:"depends_on"`
}

type composeBuild struct {
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile"`
}

type composeHealthcheck struct {
	Test        []string `json:"test"`
	Interval    string   `json:"interval"`
	Timeout     string   `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod string   `json:"start_period"`
}

type composeDependency struct {
	Condition string `json:"condition"`
}

func TestCompose(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot(t), "deploy", "compose")
	raw, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := yaml.Unmarshal(raw, &top); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for k := range top {
		if !strings.HasPrefix(k, "x-") && !slices.Contains([]string{"name", "services", "volumes"}, k) {
			t.Errorf("compose.yaml: unexpected top-level key %q", k)
		}
	}
	var services map[string]composeService
	if err := yaml.UnmarshalStrict(top["services"], &services); err != nil {
		t.Fatalf("compose.yaml services: %v", err)
	}
	var volumes map[string]json.RawMessage
	if err := json.Unmarshal(top["volumes"], &volumes); err != nil {
		t.Fatalf("compose.yaml volumes: %v", err)
	}

	// Long-running services and how their health is known.
	servers := []string{"postgres", "clearing", "leaf", "acorn", "prometheus", "grafana"}
	oneShots := []string{"migrate", "setup"}
	for _, name := range append(append([]string{}, servers...), oneShots...) {
		if _, ok := services[name]; !ok {
			t.Errorf("service %q is missing", name)
		}
	}
	for _, name := range servers {
		s := services[name]
		if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 || (s.Healthcheck.Test[0] != "CMD" && s.Healthcheck.Test[0] != "CMD-SHELL") {
			t.Errorf("service %q: healthcheck %+v, want a CMD or CMD-SHELL test", name, s.Healthcheck)
		}
		if s.Restart != "unless-stopped" {
			t.Errorf("service %q: restart %q, want unless-stopped", name, s.Restart)
		}
	}
	for _, name := range []string{"clearing", "leaf", "acorn"} {
		test := strings.Join(services[name].Healthcheck.Test, " ")
		if !strings.Contains(test, "sxp healthcheck") || !strings.Contains(test, "/readyz") {
			t.Errorf("service %q: healthcheck %q, want sxp healthcheck of /readyz", name, test)
		}
	}
	for _, name := range oneShots {
		if s := services[name]; s.Restart != "no" {
			t.Errorf("one-shot service %q: restart %q, want \"no\"", name, s.Restart)
		}
	}

	// Every dependency names a service and a condition that can be met.
	for name, s := range services {
		for dep, d := range s.DependsOn {
			ds, ok := services[dep]
			if !ok {
				t.Errorf("service %q depends on unknown service %q", name, dep)
				continue
			}
			switch d.Condition {
			case "service_healthy":
				if ds.Healthcheck == nil {
					t.Errorf("service %q waits for %q to be healthy, but %q has no healthcheck", name, dep, dep)
				}
			case "service_completed_successfully":
				if !slices.Contains(oneShots, dep) {
					t.Errorf("service %q waits for %q to complete, but %q keeps running", name, dep, dep)
				}
			default:
				t.Errorf("service %q depends on %q with condition %q, want service_healthy or service_completed_successfully", name, dep, d.Condition)
			}
		}
	}
	wantDeps := map[string]map[string]string{
		"migrate":    {"postgres": "service_healthy"},
		"setup":      {"migrate": "service_completed_successfully"},
		"clearing":   {"setup": "service_completed_successfully"},
		"leaf":       {"clearing": "service_healthy"},
		"acorn":      {"clearing": "service_healthy"},
		"prometheus": {"clearing": "service_healthy", "leaf": "service_healthy", "acorn": "service_healthy"},
		"grafana":    {"prometheus": "service_healthy"},
	}
	for name, deps := range wantDeps {
		for dep, cond := range deps {
			if got := services[name].DependsOn[dep].Condition; got != cond {
				t.Errorf("service %q depends on %q: got condition %q, want %q", name, dep, got, cond)
			}
		}
	}

	// Volumes: named ones are declared; bind mounts point at files that exist
	// (the monitoring configuration lives in deploy/prometheus and deploy/grafana).
	for name, s := range services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(filepath.Join(dir, src)); err != nil {
					t.Errorf("service %q mounts %s: %v", name, src, err)
				}
				continue
			}
			if _, ok := volumes[src]; !ok {
				t.Errorf("service %q uses volume %q, which is not declared", name, src)
			}
		}
	}
	wantMounts := map[string][]string{
		"postgres":   {"./initdb:/docker-entrypoint-initdb.d:ro"},
		"prometheus": {"../prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro", "../prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro"},
		"grafana":    {"../grafana/provisioning:/etc/grafana/provisioning:ro", "../grafana/dashboards:/var/lib/grafana/dashboards:ro"},
		"leaf":       {"keys:/var/lib/sxp/keys:ro"},
		"acorn":      {"keys:/var/lib/sxp/keys:ro"},
		"setup":      {"keys:/var/lib/sxp/keys"},
	}
	for name, mounts := range wantMounts {
		for _, m := range mounts {
			if !slices.Contains(services[name].Volumes, m) {
				t.Errorf("service %q: volumes %v lack %q", name, services[name].Volumes, m)
			}
		}
	}

	// The init script creates the three databases the servers use.
	initSQL, err := os.ReadFile(filepath.Join(dir, "initdb", "01-databases.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{"clearing", "leaf", "acorn"} {
		if !strings.Contains(string(initSQL), "CREATE DATABASE "+db+";") {
			t.Errorf("initdb/01-databases.sql does not create database %q", db)
		}
		if name := map[string]string{"clearing": "clearing", "leaf": "leaf", "acorn": "acorn"}[db]; !strings.Contains(services[name].Environment["DATABASE_URL"], "/"+db+"?") {
			t.Errorf("service %q: DATABASE_URL %q, want database %q", name, services[name].Environment["DATABASE_URL"], db)
		}
	}

	// The sxp services run the image built from the repository's Dockerfile,
	// and the communities carry every setting of a circle member.
	for _, name := range []string{"migrate", "setup", "clearing", "leaf", "acorn", "demo"} {
		s := services[name]
		if s.Build == nil || s.Build.Context != "../.." || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("service %q: build %+v, want context ../.. and the Dockerfile", name, s.Build)
		}
	}
	for _, name := range []string{"leaf", "acorn"} {
		env := services[name].Environment
		for _, k := range []string{"DATABASE_URL", "SXP_COMMUNITY_ID", "SXP_COMMUNITY_NAME", "SXP_CURRENCY", "SXP_CURRENCY_DIVISIONS",
			"SXP_PUBLIC_URL", "SXP_DEFAULT_MIN", "SXP_DEFAULT_MAX", "SXP_REGISTRATION", "SXP_CIRCLE_URL", "SXP_CIRCLE_ID", "SXP_RATE"} {
			if env[k] == "" {
				t.Errorf("service %q: environment lacks %s", name, k)
			}
		}
		if cmd := strings.Join(services[name].Command, " "); !strings.Contains(cmd, "SXP_CIRCLE_KEY=") || !strings.Contains(cmd, "/var/lib/sxp/keys/"+name+".key") {
			t.Errorf("service %q: command %q does not read its circle key from the keys volume", name, cmd)
		}
	}
}
