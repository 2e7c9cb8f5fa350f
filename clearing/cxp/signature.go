package cxp

import (
	"errors"

	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// signatureCodes is the one table from signature refusals (httpsig kinds) to CXP
// codes. A refusal the payee's server sends back to the clearing house is code 20
// (CodeRemoteAuth, see RemoteAuth).
var signatureCodes = map[httpsig.Kind]Code{
	httpsig.KindMalformed:  CodeAuthData,
	httpsig.KindStale:      CodeAuthData,
	httpsig.KindReplayed:   CodeAuthData,
	httpsig.KindUnknownKey: CodeNotPermitted,
	httpsig.KindMismatch:   CodeWrongKey,
}

// SignatureError is the CXP refusal for err, an error of httpsig.Verifier.Verify: a
// *Error already in the chain (a KeyStore's code 16 for a blocked community) as it is,
// a signature refusal by signatureCodes (18 carries the reason in args), and ok=false
// for anything else (the server's own failure).
func SignatureError(err error) (e *Error, ok bool) {
	if e, ok := AsError(err); ok {
		return e, true
	}
	kind, ok := httpsig.KindOf(err)
	if !ok {
		return nil, false
	}
	code, ok := signatureCodes[kind]
	if !ok {
		return nil, false
	}
	if code == CodeAuthData {
		var reason string
		var se *httpsig.Error
		if errors.As(err, &se) {
			reason = se.Reason
		}
		return NewError(code, map[string]string{"reason": reason}), true
	}
	return NewError(code, nil), true
}

// IsSignatureRefusal reports whether c is a code a verifier answers a signature with
// (16, 17, 18): a payee's server answering one of them is code 20 for the clearing house.
func IsSignatureRefusal(c Code) bool {
	for _, sc := range signatureCodes {
		if sc == c {
			return true
		}
	}
	return false
}

// RemoteAuth is code 20 for server: the payee's (or parent's) server refused the
// clearing house's signature, which it answered with a signature refusal (16/17/18,
// or its own 20) or a bare HTTP 401/403.
func RemoteAuth(server string) *Error {
	return NewError(CodeRemoteAuth, map[string]string{"server": server})
}
