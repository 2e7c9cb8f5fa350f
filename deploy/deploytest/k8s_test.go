package deploytest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// cnpgCluster is the part of CloudNativePG's Cluster (postgresql.cnpg.io/v1)
// that the manifests use; strict decoding rejects anything else.
type cnpgCluster struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   cnpgObjectMeta  `json:"metadata"`
	Spec       cnpgClusterSpec `json:"spec"`
}

type cnpgObjectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

type cnpgClusterSpec struct {
	Instances             int           `json:"instances"`
	ImageName             string        `json:"imageName"`
	PrimaryUpdateStrategy string        `json:"primaryUpdateStrategy"`
	PostgreSQL            *cnpgPostgres `json:"postgresql"`
	Bootstrap             struct {
		InitDB struct {
			Database string `json:"database"`
			Owner    string `json:"owner"`
		} `json:"initdb"`
	} `json:"bootstrap"`
	Storage struct {
		Size string `json:"size"`
	} `json:"storage"`
	Resources corev1.ResourceRequirements `json:"resources"`
}

type cnpgPostgres struct {
	Parameters  map[string]string `json:"parameters"`
	Synchronous *struct {
		Method string `json:"method"`
		Number int    `json:"number"`
	} `json:"synchronous"`
}

// kustomization is the part of kustomize's file that deploy/k8s uses.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

// manifest is one YAML document of deploy/k8s.
type manifest struct {
	file string
	raw  []byte
	kind string
	name string
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func loadManifests(t *testing.T, dir string) []manifest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []manifest
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range docSep.Split(string(raw), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s: %v", filepath.Base(f), err)
			}
			out = append(out, manifest{file: filepath.Base(f), raw: []byte(doc), kind: head.APIVersion + "/" + head.Kind, name: head.Metadata.Name})
		}
	}
	return out
}

func stripComments(doc string) string {
	var b bytes.Buffer
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot(t), "deploy", "k8s")
	ms := loadManifests(t, dir)

	var (
		deployments = map[string]*appsv1.Deployment{}
		services    = map[string]*corev1.Service{}
		configMaps  = map[string]*corev1.ConfigMap{}
		secrets     = map[string]*corev1.Secret{}
		jobs        = map[string]*batchv1.Job{}
		clusters    = map[string]*cnpgCluster{}
	)
	for _, m := range ms {
		var obj any
		switch m.kind {
		case "apps/v1/Deployment":
			d := &appsv1.Deployment{}
			deployments[m.name], obj = d, d
		case "v1/Service":
			s := &corev1.Service{}
			services[m.name], obj = s, s
		case "v1/ConfigMap":
			c := &corev1.ConfigMap{}
			configMaps[m.name], obj = c, c
		case "v1/Secret":
			s := &corev1.Secret{}
			secrets[m.name], obj = s, s
		case "batch/v1/Job":
			j := &batchv1.Job{}
			jobs[m.name], obj = j, j
		case "v1/Namespace":
			obj = &corev1.Namespace{}
		case "postgresql.cnpg.io/v1/Cluster":
			c := &cnpgCluster{}
			clusters[m.name], obj = c, c
		default:
			t.Errorf("%s: %s %q: kind not checked by this test", m.file, m.kind, m.name)
			continue
		}
		if err := yaml.UnmarshalStrict(m.raw, obj); err != nil {
			t.Errorf("%s: %s %q: %v", m.file, m.kind, m.name, err)
		}
	}

	t.Run("kustomization lists every file", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var k kustomization
		if err := yaml.UnmarshalStrict(raw, &k); err != nil {
			t.Fatalf("kustomization.yaml: %v", err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, f := range files {
			if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(k.Resources, b) {
				t.Errorf("kustomization.yaml does not list %s", b)
			}
		}
	})

	for _, name := range []string{"clearing", "leaf", "acorn"} {
		t.Run("deployment "+name, func(t *testing.T) {
			d := deployments[name]
			if d == nil {
				t.Fatalf("no Deployment %q", name)
			}
			if svc := services[name]; svc == nil {
				t.Errorf("no Service %q", name)
			} else if !labelsMatch(svc.Spec.Selector, d.Spec.Template.Labels) {
				t.Errorf("Service %q selects %v, which does not match the pod labels %v", name, svc.Spec.Selector, d.Spec.Template.Labels)
			}
			if d.Spec.Selector == nil || !labelsMatch(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
				t.Errorf("Deployment %q: selector %v does not match its pod labels %v", name, d.Spec.Selector, d.Spec.Template.Labels)
			}
			checkPod(t, "Deployment "+name, d.Spec.Template.Spec, true)
			c := d.Spec.Template.Spec.Containers[0]
			if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
				t.Errorf("container %q: liveness probe %+v, want GET /healthz", c.Name, c.LivenessProbe)
			}
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Errorf("container %q: readiness probe %+v, want GET /readyz", c.Name, c.ReadinessProbe)
			}
			if len(c.Args) < 1 || c.Args[0] != map[string]string{"clearing": "clearing", "leaf": "community", "acorn": "community"}[name] {
				t.Errorf("container %q: args %v", c.Name, c.Args)
			}
			checkDatabaseURL(t, c, name+"-db-app")
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil && configMaps[ef.ConfigMapRef.Name] == nil {
					t.Errorf("container %q: envFrom ConfigMap %q does not exist", c.Name, ef.ConfigMapRef.Name)
				}
				if ef.SecretRef != nil && secrets[ef.SecretRef.Name] == nil {
					t.Errorf("container %q: envFrom Secret %q does not exist", c.Name, ef.SecretRef.Name)
				}
			}
		})
	}

	t.Run("clearing secret", func(t *testing.T) {
		s := secrets["clearing-secret"]
		if s == nil {
			t.Fatal("no Secret clearing-secret")
		}
		if !strings.HasPrefix(s.StringData["SXP_CLEARING_SECRET"], "REPLACE-") {
			t.Errorf("Secret clearing-secret: SXP_CLEARING_SECRET %q, want a REPLACE-… placeholder", s.StringData["SXP_CLEARING_SECRET"])
		}
	})

	for _, name := range []string{"leaf", "acorn"} {
		t.Run("community settings "+name, func(t *testing.T) {
			cm := configMaps[name+"-config"]
			if cm == nil {
				t.Fatalf("no ConfigMap %s-config", name)
			}
			for _, k := range []string{"SXP_COMMUNITY_ID", "SXP_COMMUNITY_NAME", "SXP_CURRENCY", "SXP_CURRENCY_DIVISIONS", "SXP_PUBLIC_URL",
				"SXP_DEFAULT_MIN", "SXP_DEFAULT_MAX", "SXP_REGISTRATION", "SXP_CIRCLE_URL", "SXP_CIRCLE_ID", "SXP_RATE"} {
				if cm.Data[k] == "" {
					t.Errorf("ConfigMap %s-config lacks %s", name, k)
				}
			}
			if got := cm.Data["SXP_COMMUNITY_ID"]; got != name {
				t.Errorf("ConfigMap %s-config: SXP_COMMUNITY_ID %q, want %q", name, got, name)
			}
			s := secrets[name+"-circle"]
			if s == nil {
				t.Fatalf("no Secret %s-circle", name)
			}
			if !strings.HasPrefix(s.StringData["SXP_CIRCLE_KEY"], "REPLACE-") {
				t.Errorf("Secret %s-circle: SXP_CIRCLE_KEY %q, want a REPLACE-… placeholder, never a real key", name, s.StringData["SXP_CIRCLE_KEY"])
			}
		})
	}

	t.Run("migration job", func(t *testing.T) {
		j := jobs["sxp-migrate"]
		if j == nil {
			t.Fatal("no Job sxp-migrate")
		}
		checkPod(t, "Job sxp-migrate", j.Spec.Template.Spec, false)
		var dbs []string
		for _, c := range j.Spec.Template.Spec.Containers {
			if strings.Join(c.Args, " ") != "migrate up" {
				t.Errorf("container %q: args %v, want [migrate up]", c.Name, c.Args)
			}
			for _, e := range c.Env {
				if e.Name == "DATABASE_URL" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					dbs = append(dbs, e.ValueFrom.SecretKeyRef.Name)
				}
			}
		}
		slices.Sort(dbs)
		if want := []string{"acorn-db-app", "clearing-db-app", "leaf-db-app"}; !slices.Equal(dbs, want) {
			t.Errorf("migration Job migrates %v, want %v", dbs, want)
		}
		if rp := j.Spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
			t.Errorf("Job restartPolicy %q, want OnFailure or Never", rp)
		}
	})

	t.Run("CloudNativePG clusters", func(t *testing.T) {
		want := map[string]struct {
			db           string
			minInstances int
		}{"clearing-db": {"clearing", 3}, "leaf-db": {"leaf", 1}, "acorn-db": {"acorn", 1}}
		for name, w := range want {
			c := clusters[name]
			if c == nil {
				t.Errorf("no CNPG Cluster %q", name)
				continue
			}
			if c.Spec.Instances < w.minInstances {
				t.Errorf("Cluster %q: %d instances, want at least %d", name, c.Spec.Instances, w.minInstances)
			}
			if c.Spec.Bootstrap.InitDB.Database != w.db || c.Spec.Bootstrap.InitDB.Owner == "" {
				t.Errorf("Cluster %q: bootstrap.initdb %+v, want database %q with an owner", name, c.Spec.Bootstrap.InitDB, w.db)
			}
			if c.Spec.Storage.Size == "" {
				t.Errorf("Cluster %q: no storage.size", name)
			}
			if c.Spec.Resources.Requests.Memory().IsZero() || c.Spec.Resources.Limits.Memory().IsZero() {
				t.Errorf("Cluster %q: resources %+v, want memory requests and limits", name, c.Spec.Resources)
			}
		}
		if c := clusters["clearing-db"]; c != nil && (c.Spec.PostgreSQL == nil || c.Spec.PostgreSQL.Synchronous == nil || c.Spec.PostgreSQL.Synchronous.Number < 1) {
			t.Errorf("Cluster clearing-db: want a synchronous standby (postgresql.synchronous.number >= 1), so failover loses no intertrade")
		}
	})
}

// checkPod checks what every pod of SXP must have: a non-root security
// context, and on every container resources and a locked-down security
// context (and probes, for servers).
func checkPod(t *testing.T, what string, spec corev1.PodSpec, server bool) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: pod securityContext %+v, want runAsNonRoot and a non-zero runAsUser", what, psc)
	}
	if psc != nil && (psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
		t.Errorf("%s: want seccompProfile RuntimeDefault", what)
	}
	if len(spec.Containers) == 0 {
		t.Fatalf("%s: no containers", what)
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if c.Image == "" {
			t.Errorf("%s: container %q has no image", what, c.Name)
		}
		r := c.Resources
		if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() || r.Limits.Cpu().IsZero() || r.Limits.Memory().IsZero() {
			t.Errorf("%s: container %q: resources %+v, want cpu and memory requests and limits", what, c.Name, r)
		}
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s: container %q: securityContext %+v, want no privilege escalation, a read-only root and all capabilities dropped", what, c.Name, sc)
		}
		if server && (c.LivenessProbe == nil || c.ReadinessProbe == nil) {
			t.Errorf("%s: container %q lacks a liveness or readiness probe", what, c.Name)
		}
	}
}

func checkDatabaseURL(t *testing.T, c corev1.Container, secret string) {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == "DATABASE_URL" {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != secret || e.ValueFrom.SecretKeyRef.Key != "uri" {
				got, _ := json.Marshal(e)
				t.Errorf("container %q: DATABASE_URL %s, want the `uri` of Secret %s (made by CNPG)", c.Name, got, secret)
			}
			return
		}
	}
	t.Errorf("container %q has no DATABASE_URL", c.Name)
}

func labelsMatch(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
