package cxp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// DefaultTimeout bounds each call of a Client whose HTTP is nil.
const DefaultTimeout = 15 * time.Second

// MaxResponseBytes bounds the answer a Client reads.
const MaxResponseBytes = 1 << 20

var defaultHTTP = &http.Client{Timeout: DefaultTimeout}

// Client is a signed CXP client: a community talking to its circle (Handshake, Clients,
// Prepare, Try), or the clearing house relaying to a payee's server (Relay).
//
// Every method returns the decoded answer. When the answer's code is not 0 the error is
// that *Error (AsError finds it) and the answer is returned too. A transport failure is an
// *UnreachableError (IsUnreachable). An answer that is not a CXP JSON object is a *Error
// code 7 whose message tells the HTTP status.
type Client struct {
	BaseURL string         // the circle's base URL, e.g. "http://127.0.0.1:8080"
	Signer  httpsig.Signer // signs every request
	HTTP    *http.Client   // default: a client with DefaultTimeout
}

// Handshake is POST /server.
func (c *Client) Handshake(ctx context.Context, req HandshakeRequest) (HandshakeResponse, error) {
	var out HandshakeResponse
	err := c.do(ctx, http.MethodPost, c.url("/server"), req, &out, &out.Status)
	return out, err
}

// Clients is GET /server/clients.
func (c *Client) Clients(ctx context.Context) (ClientsResponse, error) {
	var out ClientsResponse
	err := c.do(ctx, http.MethodGet, c.url("/server/clients"), nil, &out, &out.Status)
	return out, err
}

// Prepare is GET /transactions with req as query parameters.
func (c *Client) Prepare(ctx context.Context, req PrepareRequest) (PrepareResponse, error) {
	var out PrepareResponse
	u := c.url("/transactions")
	if q := req.Query().Encode(); q != "" {
		u += "?" + q
	}
	err := c.do(ctx, http.MethodGet, u, nil, &out, &out.Status)
	return out, err
}

// Try is PUT /transactions.
func (c *Client) Try(ctx context.Context, req TransactionRequest) (TransactionResponse, error) {
	var out TransactionResponse
	err := c.do(ctx, http.MethodPut, c.url("/transactions"), req, &out, &out.Status)
	return out, err
}

// Relay is PUT {payeeURI}/transactions, from the clearing house to the payee's server.
// A payeeURI without a scheme ("servername.com", as the seed writes them) gets https://.
func (c *Client) Relay(ctx context.Context, payeeURI string, req TransactionRequest) (TransactionResponse, error) {
	var out TransactionResponse
	base := payeeURI
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	err := c.do(ctx, http.MethodPut, joinURL(base, "/transactions"), req, &out, &out.Status)
	return out, err
}

func (c *Client) url(path string) string { return joinURL(c.BaseURL, path) }

func joinURL(base, path string) string {
	return strings.TrimRight(base, "/") + path
}

// do sends one signed request and decodes the answer into out, whose envelope is status.
func (c *Client) do(ctx context.Context, method, url string, in, out any, status *Status) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("cxp: encode %s %s: %w", method, url, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("cxp: %s %s: %w", method, url, err)
	}
	if body == nil {
		req.Body = nil
		req.ContentLength = 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if err := c.Signer.Sign(req, body); err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &UnreachableError{URL: url, Err: err}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return &UnreachableError{URL: url, Err: err}
	}
	if len(answer) > MaxResponseBytes {
		return Errorf(CodeDiagnostics, "HTTP %d: answer larger than %d bytes", resp.StatusCode, MaxResponseBytes)
	}
	if derr := decodeLenient(answer, out); derr != nil {
		return Errorf(CodeDiagnostics, "HTTP %d: not a CXP answer: %s", resp.StatusCode, clip(string(answer)))
	}
	if e := status.Err(); e != nil {
		return e
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Errorf(CodeDiagnostics, "HTTP %d with code 0", resp.StatusCode)
	}
	return nil
}

// UnreachableError is a transport failure: the server could not be reached or did not
// answer in time (connection refused, DNS, TLS, timeout).
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string { return "cxp: " + e.URL + " unreachable: " + e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// IsUnreachable reports whether err is a transport failure (the clearing house answers 26),
// but not the caller's own cancellation.
func IsUnreachable(err error) bool {
	var u *UnreachableError
	return errors.As(err, &u) && !errors.Is(err, context.Canceled)
}
