package httpapi_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/goccy/go-yaml"

	"github.com/sxp-network/sxp/clearing/httpapi"
)

// TestOpenAPIDocumentsArbiter checks that every route of the arbiter (and
// its admin API) in the clearing house's route table is in openapi.yaml
// with its method.
func TestOpenAPIDocumentsArbiter(t *testing.T) {
	raw, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	engine, ok := httpapi.New(nil, httpapi.Options{PublicURL: "http://127.0.0.1"}).Handler().(*gin.Engine)
	if !ok {
		t.Fatal("the handler is not a gin engine")
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	found := 0
	for _, r := range engine.Routes() {
		if !strings.HasPrefix(r.Path, "/arbiter/") && !strings.HasPrefix(r.Path, "/admin/api/arbiter/") {
			continue
		}
		found++
		path := param.ReplaceAllString(r.Path, "{$1}")
		if _, ok := doc.Paths[path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is not in openapi.yaml", r.Method, path)
		}
	}
	if found != 5 {
		t.Errorf("got %d arbiter routes, want 5", found)
	}
}
