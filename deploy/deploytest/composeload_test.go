package deploytest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/sxp-network/sxp/migrations/pgtest"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
)

// loadCompose loads compose.yaml with the Compose Specification's own
// loader (the one docker compose uses): schema validation, interpolation,
// merge keys and references between services.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
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
	return project
}

// TestComposeLoads checks the loaded project: its services, the shell
// scripts of the one-shot and community services, and the merged anchors.
func TestComposeLoads(t *testing.T) {
	t.Parallel()
	project := loadCompose(t)
	want := []string{"acorn", "clearing", "demo", "grafana", "leaf", "migrate", "postgres", "prometheus", "setup"}
	got := project.ServiceNames()
	if len(got) != len(want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	// Shell scripts in the file parse, after compose's interpolation ($$ → $).
	for _, name := range []string{"migrate", "setup", "leaf", "acorn"} {
		svc, err := project.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(svc.Entrypoint) < 2 || svc.Entrypoint[0] != "/bin/sh" || len(svc.Command) != 1 {
			t.Errorf("service %q: entrypoint %v command %v, want /bin/sh -ec SCRIPT", name, svc.Entrypoint, svc.Command)
			continue
		}
		if out, err := exec.Command("sh", "-n", "-c", svc.Command[0]).CombinedOutput(); err != nil {
			t.Errorf("service %q: its script does not parse: %v\n%s\n%s", name, err, out, svc.Command[0])
		}
		if strings.Contains(svc.Command[0], "$$") {
			t.Errorf("service %q: script still has $$ after interpolation", name)
		}
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

// TestComposeSetupScript runs the compose file's one-shot setup script with
// the real binary on a migrated database: it creates the circle, joins both
// communities and writes their keys (mode 0600); run again, it changes nothing.
func TestComposeSetupScript(t *testing.T) {
	t.Parallel()
	svc, err := loadCompose(t).GetService("setup")
	if err != nil {
		t.Fatal(err)
	}
	bin := sxptest.BuildSXP(t)
	db := pgtest.NewDatabase(t)
	keys := t.TempDir()
	script := strings.ReplaceAll(svc.Command[0], "/var/lib/sxp/keys", keys)
	run := func() {
		t.Helper()
		cmd := exec.Command("bash", "-ec", script)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"),
			"DATABASE_URL="+db, "SXP_CLEARING_SECRET="+*svc.Environment["SXP_CLEARING_SECRET"])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("setup script: %v\n%s", err, out)
		}
	}
	run()
	first := map[string]string{}
	for _, id := range []string{"leaf", "acorn"} {
		path := filepath.Join(keys, id+".key")
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("no key for %s: %v", id, err)
		}
		if fi.Mode().Perm() != 0o600 || fi.Size() < 16 {
			t.Errorf("%s.key: mode %o, %d bytes; want 600 and a key", id, fi.Mode().Perm(), fi.Size())
		}
		k, _ := os.ReadFile(path)
		first[id] = string(k)
	}
	run()
	for id, k := range first {
		if got, _ := os.ReadFile(filepath.Join(keys, id+".key")); string(got) != k {
			t.Errorf("second setup run changed %s.key", id)
		}
	}
	out, err := exec.Command(bin, "admin", "community", "list", "--database", db).CombinedOutput()
	if err != nil {
		t.Fatalf("sxp admin community list: %v\n%s", err, out)
	}
	for _, want := range []string{"leaf", "acorn", "http://leaf:8080", "http://acorn:8080"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("sxp admin community list does not show %q:\n%s", want, out)
		}
	}
}
