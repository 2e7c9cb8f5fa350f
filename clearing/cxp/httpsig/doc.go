// Package httpsig is RFC 9421 HTTP Message Signatures with RFC 9530 Content-Digest, as
// the servers of this repository use them: a Signer for outgoing requests and a Verifier
// for incoming ones (signature base, Content-Digest, a created window, a nonce store,
// key lookup, hmac-sha256 and ed25519).
//
// Profile: a request with a body covers ("@method" "@target-uri" "content-digest"),
// one without ("@method" "@target-uri"); the parameters are created, nonce, keyid and
// alg. The label is DefaultLabel ("cxp") unless the Signer or Verifier names another
// (federation: "sxp").
//
// Errors are plain: a refusal is an *Error with a Kind (malformed, stale, unknown key,
// mismatch, replayed; errors.Is against ErrMalformed, ErrStale, …). The package knows
// no protocol's codes: CXP maps kinds to its codes 16/17/18 in clearing/cxp
// (SignatureError), federation maps them to 401/403.
//
// Dependencies: the standard library and github.com/dunglas/httpsfv only; every
// package of the repository may import it.
package httpsig
