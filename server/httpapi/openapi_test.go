package httpapi_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/sxp-network/sxp/server/httpapi"
	"github.com/sxp-network/sxp/server/payments"
)

// TestOpenAPIDocumentsEveryRoute checks that every JSON route of the
// community server's route table (everything but the HTML pages) is in
// openapi.yaml with its method.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	raw, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths    map[string]map[string]any `yaml:"paths"`
		Webhooks map[string]map[string]any `yaml:"webhooks"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	h := &httpapi.Handlers{Community: httpapi.Community{ID: "leaf", Name: "Leaf", Currency: payments.Currency{Code: "LEAF", Divisions: 2}}}
	param := regexp.MustCompile(`:([a-z_]+)`)
	var missing []string
	for _, r := range h.Engine().Routes() {
		if r.Method == "PUT" && r.Path == "/transactions" {
			// The relay receiver shares its path with the clearing house's
			// try, so it is documented as the webhook cxpRelay.
			if _, ok := doc.Webhooks["cxpRelay"]["put"]; !ok {
				missing = append(missing, "PUT /transactions (webhooks: cxpRelay: put)")
			}
			continue
		}
		if !strings.HasPrefix(r.Path, "/api/") && !strings.HasPrefix(r.Path, "/federation/") && r.Path != "/.well-known/sxp" && r.Path != "/healthz" && r.Path != "/readyz" && r.Path != "/metrics" {
			continue
		}
		path := param.ReplaceAllString(r.Path, "{$1}")
		if _, ok := doc.Paths[path][strings.ToLower(r.Method)]; !ok {
			missing = append(missing, r.Method+" "+path)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("routes missing from openapi.yaml:\n%s", strings.Join(missing, "\n"))
	}
}
