package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestDemoUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no community", []string{"demo"}, "give one or two communities as ID=URL"},
		{"three communities", []string{"demo", "a=http://x", "b=http://y", "c=http://z"}, "give one or two communities as ID=URL"},
		{"no id", []string{"demo", "http://127.0.0.1:8081"}, `"http://127.0.0.1:8081" is not ID=URL`},
		{"not http", []string{"demo", "leaf=ftp://x"}, `"leaf=ftp://x" is not ID=URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tt.args, &out, &errOut); code != 2 {
				t.Errorf("exit code: got %d, want 2", code)
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("stderr: got %q, want it to contain %q", errOut.String(), tt.want)
			}
		})
	}
}

func TestDemoPassword(t *testing.T) {
	re := regexp.MustCompile(`^[a-km-z2-9]{4}-[a-km-z2-9]{4}-[a-km-z2-9]{4}$`)
	seen := map[string]bool{}
	for range 100 {
		p := demoPassword()
		if !re.MatchString(p) {
			t.Fatalf("demoPassword() = %q, want xxxx-xxxx-xxxx from the unambiguous alphabet", p)
		}
		if seen[p] {
			t.Fatalf("demoPassword() repeated %q", p)
		}
		seen[p] = true
	}
}

// TestDemoStopsAtFirstRefusal: a server that refuses registration stops the
// seeding with the server's answer in the error.
func TestDemoStopsAtFirstRefusal(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error":{"code":"taken","message":"username taken"}}`))
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"demo", "leaf=" + srv.URL}, &out, &errOut); code != 1 {
		t.Fatalf("exit code: got %d, want 1", code)
	}
	if calls != 1 {
		t.Errorf("requests: got %d, want 1 (stop at the first refusal)", calls)
	}
	want := `register alice@leaf: POST /api/v1/members: HTTP 409 taken: username taken`
	if !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr: got %q, want %q", errOut.String(), want)
	}
}

func TestHealthcheck(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer ok.Close()
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"healthy", []string{"healthcheck", ok.URL + "/healthz"}, 0},
		{"404", []string{"healthcheck", ok.URL + "/nope"}, 1},
		{"nothing listens", []string{"healthcheck", "--timeout", "1s", "http://127.0.0.1:1/healthz"}, 1},
		{"two URLs", []string{"healthcheck", "http://a", "http://b"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tt.args, &out, &errOut); code != tt.code {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
		})
	}
}
