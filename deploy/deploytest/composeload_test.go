package deploytest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// TestComposeLoads loads compose.yaml with the Compose Specification's own
// loader (the one docker compose uses): schema validation, interpolation,
// merge keys and references between services.
func TestComposeLoads(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot(t), "deploy", "compose")
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml")},
		cli.WithWorkingDirectory(dir),
		cli.WithEnv([]string{}), // the defaults in the file, as on a machine without .env
		cli.WithProfiles([]string{"demo"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	want := []string{"acorn", "clearing", "demo", "grafana", "leaf", "migrate", "postgres", "prometheus", "setup"}
	got := project.ServiceNames()
	if len(got) != len(want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	leaf, err := project.GetService("leaf")
	if err != nil {
		t.Fatal(err)
	}
	if v := leaf.Environment["SXP_CIRCLE_URL"]; v == nil || *v != "http://clearing:8080" {
		t.Errorf("leaf: SXP_CIRCLE_URL %v after merging x-community-env, want http://clearing:8080", v)
	}
	if d, ok := leaf.DependsOn["clearing"]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("leaf depends_on clearing: %+v, want condition service_healthy", d)
	}
	if leaf.HealthCheck == nil || len(leaf.HealthCheck.Test) == 0 {
		t.Errorf("leaf has no healthcheck after the anchor is resolved")
	}
}
