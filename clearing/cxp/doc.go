// Package cxp is the CXP Intertrading API 1.0 protocol, shared by the clearing house
// (server side) and community servers (clients, and receivers of relays): wire messages,
// answer codes, exact decimals, rate conversion, request signing and a Go client.
//
// Money: amounts on the wire are Decimals (JSON number literals kept verbatim, never
// float64), read and written by ledger/money (its number spelling: the JSON grammar,
// exponents included). Decimal.Minor turns one into integer minor units and refuses
// (code 15) a value that is not a whole number of minor units. FromMinor writes exactly
// `divisions` decimal places ("12.50"). ValidateRate is money.ParseRateNumber: greater
// than 0, at most 12 decimal places, at most 10^9.
//
// Rounding: ToBase and FromBase convert with the declared rate (ticks = base units per
// unit of the community's currency) exactly (ledger/money), then truncate once to a whole
// minor unit of the target, towards zero: a conversion never yields more value than it
// was given (see rate.go).
//
// Errors: refusals are *Error (code, args for the seed's @-placeholders, rendered
// message); HTTPStatus maps codes to statuses in one table: 8/11/12/13/15 → 400,
// 17/18 → 401, 16 → 403, 6 → 404, 4/14/24 → 409, 25 → 422, 20/26 → 502, 5/7/27 → 500.
// Functions that return *Error (Decode, Validate, ReadBody, …) return a nil *Error on
// success: compare it with nil directly, do not store it in an error variable first.
//
// Decoding: Decode is strict (one JSON object, no unknown or repeated keys, JSON types
// checked: 15 for a wrong type, 8 for an unknown key, 13 for invalid UTF-8); booleans
// accept true/false/1/0.
//
// Signing (RFC 9421 HTTP Message Signatures, RFC 9530 Content-Digest) is package
// clearing/cxp/httpsig, which knows no CXP code. Its refusals become CXP codes in one
// place, SignatureError (signature.go): malformed data, a stale created or a replayed
// nonce → 18, an unknown keyid → 16, a mismatch → 17; a payee's server refusing the
// clearing house's signature is 20 (RemoteAuth).
//
//	Content-Digest: sha-256=:<base64 sha256(body)>:                 (requests with a body)
//	Signature-Input: cxp=("@method" "@target-uri" "content-digest");created=<unix>;nonce="<random>";keyid="<id>";alg="hmac-sha256"
//	Signature: cxp=:<base64 signature over the signature base>:
package cxp
