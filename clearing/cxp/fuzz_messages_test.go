package cxp

import (
	"net/url"
	"testing"
	"time"
)

// Fuzz targets for the wire: message decoding (the signatures' are in httpsig).
// Seeds are below and in testdata/fuzz/<target>/; `go test` runs them,
// `go test -fuzz FuzzX` explores (deploy/test runs each briefly).

var fuzzNow = time.Unix(1_700_000_000, 0)

// FuzzDecodeMessages decodes any body into every CXP message type with
// the strict decoder: it never panics, refuses only with the decoder's
// codes, and what it accepts validates without panicking. The prepare
// form's query string goes through PrepareRequestFromQuery the same way.
func FuzzDecodeMessages(f *testing.F) {
	for _, s := range []string{
		`{"api":"1.0","mail":"a@b.c","ticks":1.5,"visibility":1}`,
		`{"payer":"a","payer_url":"http://a","payee":"b","payee_url":"http://b","src_url":"http://a","dest_url":"http://b","quantity":1.5,"description":"x","really":true,"temp_id":"t1"}`,
		`{"balance":"1","volume":2}`, `{"code":0,"args":{},"message":"ok","id":"7","quantity":1e2}`,
		`{"quantity":1e400}`, `{"quantity":-0.001}`, `{"temp_id":"\u0000"}`, `{"a":1,"a":2}`, `[1]`, `"x"`, `{`,
	} {
		f.Add([]byte(s), "balance=1.5&volume=3&api=1.0")
	}
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		known := func(e *Error) {
			if e == nil {
				return
			}
			// A message is refused for what it says, never as a server failure.
			switch e.Code {
			case CodeType, CodeInvalidField, CodeInvalidChars, CodeMissingField, CodeSign:
			default:
				t.Fatalf("%q / %q: refused with code %d (%s)", body, query, e.Code, e.Message)
			}
		}
		var hs HandshakeRequest
		if err := Decode(body, &hs); err == nil {
			known(hs.Validate())
		} else {
			known(err)
		}
		var pr PrepareRequest
		if err := Decode(body, &pr); err == nil {
			_, _, verr := pr.Validate(2)
			known(verr)
		} else {
			known(err)
		}
		var tr TransactionRequest
		if err := Decode(body, &tr); err == nil {
			_, verr := tr.Validate(2)
			known(verr)
		} else {
			known(err)
		}
		var hr HandshakeResponse
		known(decodeLenient(body, &hr))
		var xr TransactionResponse
		known(decodeLenient(body, &xr))
		var cr ClientsResponse
		known(decodeLenient(body, &cr))
		if q, err := url.ParseQuery(query); err == nil {
			if p, perr := PrepareRequestFromQuery(q); perr == nil {
				_, _, verr := p.Validate(2)
				known(verr)
			} else {
				known(perr)
			}
		}
	})
}
