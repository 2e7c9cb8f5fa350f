package httpapi_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp"
)

// A temp_id repeated while its first try is still being relayed is told to
// repeat later (27), or refused for other content (8 on temp_id); once the
// first is written, every repeat gets its answer. One relay, one write.
func TestTempIDRepeatedDuringTheRelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.coms["b"].SetAnswer(func(r cxp.TransactionRequest) (int, any) {
		once.Do(func() { close(entered); <-release })
		return 200, cxp.TransactionResponse{Status: cxp.StatusOK("ok"), TempID: r.TempID}
	})
	type answer struct {
		status int
		out    map[string]any
	}
	first := make(chan answer, 1)
	go func() {
		s, o := e.call("a", "PUT", "/transactions", e.tx("3", "t1", true))
		first <- answer{s, o}
	}()
	<-entered
	if status, out := e.call("a", "PUT", "/transactions", e.tx("3", "t1", true)); status != 500 || code(out) != "27" {
		t.Errorf("repeat during the relay: got %d %v, want 500 code 27", status, out)
	}
	if status, out := e.call("a", "PUT", "/transactions", e.tx("4", "t1", true)); status != 400 || code(out) != "8" || str(args(out), "field") != "temp_id" {
		t.Errorf("other content during the relay: got %d %v, want 400 code 8 on temp_id", status, out)
	}
	close(release)
	a := <-first
	if a.status != 200 || code(a.out) != "0" || str(a.out, "id") == "" {
		t.Fatalf("first try: got %d %v, want 200 code 0 with an id", a.status, a.out)
	}
	e.wantBalances(map[string]int64{"a": -300, "b": 300})

	// Many repeats at once: all get the first answer.
	var wg sync.WaitGroup
	answers := make([]answer, 8)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, o := e.call("a", "PUT", "/transactions", e.tx("3", "t1", true))
			answers[i] = answer{s, o}
		}()
	}
	wg.Wait()
	for i, got := range answers {
		if got.status != http.StatusOK || str(got.out, "id") != str(a.out, "id") || str(got.out, "quantity") != "3.00" {
			t.Errorf("repeat %d: got %d %v, want the first answer %v", i, got.status, got.out, a.out)
		}
	}
	e.wantBalances(map[string]int64{"a": -300, "b": 300})
	if n := len(e.coms["b"].Relays()); n != 1 {
		t.Errorf("relays: got %d, want 1", n)
	}
}

// The same new temp_id sent by many clients at once is written once: each
// answer is the one write's (200) or "repeat later" (27).
func TestTempIDConcurrentFirstTries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	type answer struct {
		status int
		out    map[string]any
	}
	answers := make([]answer, 8)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, o := e.call("a", "PUT", "/transactions", e.tx("2", "race", true))
			answers[i] = answer{s, o}
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	for i, got := range answers {
		switch {
		case got.status == 200 && code(got.out) == "0":
			ids[str(got.out, "id")] = true
		case got.status == 500 && code(got.out) == "27":
		default:
			t.Errorf("try %d: got %d %v, want 200 code 0 or 500 code 27", i, got.status, got.out)
		}
	}
	if len(ids) > 1 {
		t.Errorf("ids: got %v, want one", ids)
	}
	e.wantBalances(map[string]int64{"a": -200, "b": 200})
	if n := len(e.coms["b"].Relays()); n != 1 {
		t.Errorf("relays: got %d, want 1", n)
	}
}

// Codes that come back from the payee's server carry their seed @args: 25
// and 7 always have a message, 26 the server, 24 none needed.
func TestRelayRefusalsCarryTheirArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer func(cxp.TransactionRequest) (int, any)
		code   string
		arg    string
		want   string
	}{
		{"25 without args", func(cxp.TransactionRequest) (int, any) {
			return 422, map[string]any{"code": 25, "args": map[string]string{}, "message": "bob is away"}
		}, "25", "message", "bob is away"},
		{"25 without args or message", func(cxp.TransactionRequest) (int, any) {
			return 422, map[string]any{"code": 25}
		}, "25", "message", "the payee's server gave no reason"},
		{"25 with the rendered message only", func(cxp.TransactionRequest) (int, any) {
			return 422, map[string]any{"code": 25, "message": "Misc validation error on remote client: no member bob"}
		}, "25", "message", "no member bob"},
		{"other code", func(cxp.TransactionRequest) (int, any) {
			return 400, map[string]any{"code": 13, "args": map[string]string{"fieldname": "payee"}, "message": "Field payee contains invalid characters."}
		}, "25", "message", "Field payee contains invalid characters."},
		{"not CXP", func(cxp.TransactionRequest) (int, any) { return 400, []int{1} }, "7", "message", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.coms["b"].SetAnswer(tt.answer)
			_, out := e.call("a", "PUT", "/transactions", e.tx("1", "r", true))
			if code(out) != tt.code {
				t.Fatalf("got %v, want code %s", out, tt.code)
			}
			got, ok := args(out)[tt.arg].(string)
			if !ok || got == "" || (tt.want != "" && got != tt.want) {
				t.Errorf("args[%s]: got %q (%v), want %q", tt.arg, got, out, tt.want)
			}
			e.wantBalances(map[string]int64{"a": 0, "b": 0})
		})
	}
}
