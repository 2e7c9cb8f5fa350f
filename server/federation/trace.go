package federation

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
)

// TraceTransport appends every request it carries (method, URL, headers and
// body) to a file before sending it: tests read it to check what leaves the
// server for its peers.
type TraceTransport struct {
	mu   sync.Mutex
	f    *os.File
	next http.RoundTripper
}

// NewTraceTransport opens path for appending; next nil is http.DefaultTransport.
func NewTraceTransport(path string, next http.RoundTripper) (*TraceTransport, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("federation: trace file: %w", err)
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &TraceTransport{f: f, next: next}, nil
}

// RoundTrip implements http.RoundTripper.
func (t *TraceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%s %s\n", req.Method, req.URL)
	_ = req.Header.Write(&buf)
	buf.WriteString("\n")
	buf.Write(body)
	buf.WriteString("\n----\n")
	t.mu.Lock()
	_, err := t.f.Write(buf.Bytes())
	t.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("federation: trace: %w", err)
	}
	return t.next.RoundTrip(req)
}
