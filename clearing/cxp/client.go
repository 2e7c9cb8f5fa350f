package cxp

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// DefaultTimeout bounds each call of a Client whose HTTP is nil.
const DefaultTimeout = 15 * time.Second

// Client is a signed CXP client: a community talking to its circle (Handshake, Clients,
// Prepare, Try), or the clearing house relaying to a payee's server (Relay).
type Client struct {
	BaseURL string       // the circle's base URL, e.g. "http://127.0.0.1:8080"
	Signer  Signer       // signs every request
	HTTP    *http.Client // default: a client with DefaultTimeout
}

// Handshake is POST /server.
func (c *Client) Handshake(ctx context.Context, req HandshakeRequest) (HandshakeResponse, error) {
	return HandshakeResponse{}, errors.New("cxp: not implemented")
}

// Clients is GET /server/clients.
func (c *Client) Clients(ctx context.Context) (ClientsResponse, error) {
	return ClientsResponse{}, errors.New("cxp: not implemented")
}

// Prepare is GET /transactions with req as query parameters.
func (c *Client) Prepare(ctx context.Context, req PrepareRequest) (PrepareResponse, error) {
	return PrepareResponse{}, errors.New("cxp: not implemented")
}

// Try is PUT /transactions.
func (c *Client) Try(ctx context.Context, req TransactionRequest) (TransactionResponse, error) {
	return TransactionResponse{}, errors.New("cxp: not implemented")
}

// Relay is PUT {payeeURI}/transactions, from the clearing house to the payee's server.
func (c *Client) Relay(ctx context.Context, payeeURI string, req TransactionRequest) (TransactionResponse, error) {
	return TransactionResponse{}, errors.New("cxp: not implemented")
}

// UnreachableError is a transport failure: the server could not be reached or did not
// answer in time (connection refused, DNS, TLS, timeout).
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string { return "cxp: " + e.URL + " unreachable: " + e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// IsUnreachable reports whether err is a transport failure (answer code 26).
func IsUnreachable(err error) bool {
	var u *UnreachableError
	return errors.As(err, &u)
}
