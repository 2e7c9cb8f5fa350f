package cxp

import (
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The CXP messages, with the seed's field names. Requests are decoded with Decode
// (strict); every response embeds Status, whose code/args/message are inline.

// Account statuses in a HandshakeResponse, as the seed numbers them.
const (
	AccountNone     = -1 // no account on the clearing house
	AccountBlocked  = 0
	AccountTrading  = 1
	APIVersion      = "1.0" // the only CXP api version: handshakes must send 1 or 1.0
	MaxStringLen    = 255   // longest description, name or url, in characters
	maxTempIDLen    = 64
	maxMailLen      = 63
	defaultMaxValue = 64 // longest echo of a bad value in an error's args
)

// HandshakeRequest is POST /server: the community announces itself and sends its statement data.
type HandshakeRequest struct {
	API          Decimal  `json:"api"`
	Mail         string   `json:"mail"`
	Ticks        Decimal  `json:"ticks"`
	FirstTrade   int64    `json:"first_trade"`
	Traders      int64    `json:"traders"`
	Transactions int64    `json:"transactions"`
	URI          string   `json:"uri"`
	Divisions    string   `json:"divisions,omitempty"`
	Visibility   *bool    `json:"visibility,omitempty"`
	Logo         string   `json:"logo,omitempty"`
	Lat          *Decimal `json:"lat,omitempty"`
	Lon          *Decimal `json:"lon,omitempty"`
}

// HandshakeResponse answers a handshake: the caller's account and the rate in force for it.
type HandshakeResponse struct {
	Status
	AccountStatus int     `json:"status"` // AccountNone, AccountBlocked or AccountTrading
	Balance       Decimal `json:"balance,omitempty"`
	Min           Decimal `json:"min,omitempty"`
	Max           Decimal `json:"max,omitempty"`
	Count         int64   `json:"count"`
	Keymatch      bool    `json:"keymatch"`
	Ticks         Decimal `json:"ticks,omitempty"`
}

// ClientsResponse is GET /server/clients: the seed's uri → title map, and the same
// communities with their ids and rates.
type ClientsResponse struct {
	Status
	Clients   map[string]string `json:"clients"`
	Exchanges []Exchange        `json:"exchanges"`
}

// Exchange is one member community in a ClientsResponse.
type Exchange struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	URI    string  `json:"uri"`
	Ticks  Decimal `json:"ticks"`
	Status int     `json:"status"` // AccountBlocked or AccountTrading
}

// PrepareRequest is GET /transactions (query parameters, or a JSON body):
// the community's reported volume, integrity flag and intertrading balance, in base units.
// Each field may be absent ("" / nil).
type PrepareRequest struct {
	Volume    Decimal `json:"volume,omitempty"`
	Integrity *bool   `json:"integrity,omitempty"` // the seed sends 1; true/false/1/0 are accepted
	Balance   Decimal `json:"balance,omitempty"`
}

// PrepareResponse gives the largest transaction the caller may send (spend) and receive (earn).
type PrepareResponse struct {
	Status
	SpendLimit Decimal `json:"spend_limit,omitempty"`
	EarnLimit  Decimal `json:"earn_limit,omitempty"`
}

// TransactionRequest is PUT /transactions (try) and PUT {payee uri}/transactions (relay).
// Quantity is in base units.
//
// PayeeTicks and PayeeAmount are optional, on relays only (a try's are ignored): the
// payee's rate the clearing house converted with, and the amount in the payee's currency
// that quantity is at that rate (by ToBase/FromBase's rule). A payee credits exactly that
// amount, or refuses (25), and never converts at a rate of its own, which may be stale.
type TransactionRequest struct {
	Payer       string  `json:"payer"`
	PayerURL    string  `json:"payer_url"`
	Payee       string  `json:"payee"`
	PayeeURL    string  `json:"payee_url"`
	DestURL     string  `json:"dest_url"`
	SrcURL      string  `json:"src_url"`
	Quantity    Decimal `json:"quantity"`
	Description string  `json:"description"`
	Really      bool    `json:"really"`
	TempID      string  `json:"temp_id"`
	PayeeTicks  Decimal `json:"payee_ticks,omitempty"`
	PayeeAmount Decimal `json:"payee_amount,omitempty"`
}

// TransactionResponse answers a try or a relay. A written transaction carries its id,
// the base quantity and the rates used.
type TransactionResponse struct {
	Status
	ID         string  `json:"id,omitempty"`
	TempID     string  `json:"temp_id,omitempty"`
	Quantity   Decimal `json:"quantity,omitempty"`
	PayerTicks Decimal `json:"payer_ticks,omitempty"`
	PayeeTicks Decimal `json:"payee_ticks,omitempty"`
}

// Validate checks a try/relay request against a base unit with baseDivisions decimal
// places and returns its quantity in base minor units. Required: payer, payee, dest_url,
// src_url, quantity, temp_id (11). quantity must be > 0 (12) with at most baseDivisions
// decimal places (15). Strings may not hold control characters (13; the description may
// hold tabs and newlines); the description is at most 255 characters (13), other strings
// at most 255 (8). temp_id is 1–64 of [A-Za-z0-9._:-] (13). src_url = dest_url is 8.
func (r *TransactionRequest) Validate(baseDivisions int) (quantityMinor int64, err *Error) {
	for _, f := range []struct{ name, v string }{
		{"payer", r.Payer}, {"payee", r.Payee}, {"dest_url", r.DestURL},
		{"src_url", r.SrcURL}, {"quantity", string(r.Quantity)}, {"temp_id", r.TempID},
	} {
		if strings.TrimSpace(f.v) == "" {
			return 0, MissingField(f.name)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"payer", r.Payer}, {"payer_url", r.PayerURL}, {"payee", r.Payee},
		{"payee_url", r.PayeeURL}, {"dest_url", r.DestURL}, {"src_url", r.SrcURL},
	} {
		if err := checkText(f.name, f.v, false); err != nil {
			return 0, err
		}
		if utf8.RuneCountInString(f.v) > MaxStringLen {
			return 0, InvalidField(f.name, clip(f.v))
		}
	}
	if err := checkText("description", r.Description, true); err != nil {
		return 0, err
	}
	if utf8.RuneCountInString(r.Description) > MaxStringLen {
		return 0, InvalidChars("description")
	}
	if !ValidTempID(r.TempID) {
		return 0, InvalidChars("temp_id")
	}
	q, err := r.Quantity.MinorField("quantity", baseDivisions)
	if err != nil {
		return 0, err
	}
	if q <= 0 {
		return 0, SignError("quantity", ">", string(r.Quantity))
	}
	if r.SrcURL == r.DestURL {
		return 0, InvalidField("dest_url", clip(r.DestURL))
	}
	return q, nil
}

// ValidTempID reports whether s is 1–64 characters of [A-Za-z0-9._:-].
func ValidTempID(s string) bool {
	if len(s) == 0 || len(s) > maxTempIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isWordByte(c) && c != '.' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

// Validate checks a handshake: api is 1 (8 otherwise), mail (1–63 characters with an @),
// ticks and uri are required (11); ticks is a rate (see ValidateRate); counts are >= 0 (12);
// lat/lon are in range (8); strings hold no control characters (13).
func (r *HandshakeRequest) Validate() *Error {
	if r.API == "" {
		return MissingField("api")
	}
	if rat := r.API.Rat(); rat == nil || rat.Cmp(ratOne) != 0 {
		return InvalidField("api", clip(string(r.API)))
	}
	if strings.TrimSpace(r.Mail) == "" {
		return MissingField("mail")
	}
	if r.Ticks == "" {
		return MissingField("ticks")
	}
	if strings.TrimSpace(r.URI) == "" {
		return MissingField("uri")
	}
	for _, f := range []struct{ name, v string }{
		{"mail", r.Mail}, {"uri", r.URI}, {"divisions", r.Divisions}, {"logo", r.Logo},
	} {
		if err := checkText(f.name, f.v, false); err != nil {
			return err
		}
		if utf8.RuneCountInString(f.v) > MaxStringLen {
			return InvalidField(f.name, clip(f.v))
		}
	}
	if utf8.RuneCountInString(r.Mail) > maxMailLen || !strings.Contains(r.Mail, "@") {
		return InvalidField("mail", clip(r.Mail))
	}
	if err := ValidateRate("ticks", r.Ticks); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"first_trade", r.FirstTrade}, {"traders", r.Traders}, {"transactions", r.Transactions}} {
		if f.v < 0 {
			return SignError(f.name, ">=", strconv.FormatInt(f.v, 10))
		}
	}
	for _, f := range []struct {
		name  string
		v     *Decimal
		limit int64
	}{{"lat", r.Lat, 90}, {"lon", r.Lon, 180}} {
		if f.v == nil || *f.v == "" {
			continue
		}
		rat := f.v.Rat()
		if rat == nil {
			return TypeError(f.name, "number")
		}
		if rat.Cmp(ratInt(f.limit)) > 0 || rat.Cmp(ratInt(-f.limit)) < 0 {
			return InvalidField(f.name, clip(string(*f.v)))
		}
	}
	return nil
}

// Validate checks a prepare request against the base unit's decimal places and returns
// the reported volume and balance in base minor units (0 when absent: test r.Volume != ""
// and r.Balance != "" to know whether they were reported). volume must be >= 0 (12);
// both have at most baseDivisions decimal places (15).
func (r *PrepareRequest) Validate(baseDivisions int) (volumeMinor, balanceMinor int64, err *Error) {
	if r.Volume != "" {
		if volumeMinor, err = r.Volume.MinorField("volume", baseDivisions); err != nil {
			return 0, 0, err
		}
		if volumeMinor < 0 {
			return 0, 0, SignError("volume", ">=", string(r.Volume))
		}
	}
	if r.Balance != "" {
		if balanceMinor, err = r.Balance.MinorField("balance", baseDivisions); err != nil {
			return 0, 0, err
		}
	}
	return volumeMinor, balanceMinor, nil
}

// Query is r as the query parameters of GET /transactions (integrity as 1 or 0).
func (r PrepareRequest) Query() url.Values {
	q := url.Values{}
	if r.Volume != "" {
		q.Set("volume", string(r.Volume))
	}
	if r.Integrity != nil {
		if *r.Integrity {
			q.Set("integrity", "1")
		} else {
			q.Set("integrity", "0")
		}
	}
	if r.Balance != "" {
		q.Set("balance", string(r.Balance))
	}
	return q
}

// PrepareRequestFromQuery reads GET /transactions's query parameters. Unknown or repeated
// parameters are code 8; a volume or balance that is not a number, or an integrity that is
// not true/false/1/0, is code 15. Call Validate on the result.
func PrepareRequestFromQuery(q url.Values) (PrepareRequest, *Error) {
	var r PrepareRequest
	for k, vs := range q {
		switch k {
		case "volume", "integrity", "balance":
		default:
			return PrepareRequest{}, InvalidField(clip(k), clip(strings.Join(vs, ",")))
		}
		if len(vs) != 1 {
			return PrepareRequest{}, InvalidField(k, clip(strings.Join(vs, ",")))
		}
	}
	for _, k := range []string{"volume", "balance"} {
		vs, ok := q[k]
		if !ok {
			continue
		}
		d := Decimal(vs[0])
		if !d.Valid() {
			return PrepareRequest{}, TypeError(k, "number")
		}
		if k == "volume" {
			r.Volume = d
		} else {
			r.Balance = d
		}
	}
	if vs, ok := q["integrity"]; ok {
		b, ok := parseFlag(vs[0])
		if !ok {
			return PrepareRequest{}, TypeError("integrity", "boolean")
		}
		r.Integrity = &b
	}
	return r, nil
}

var ratOne = big.NewRat(1, 1)

func ratInt(v int64) *big.Rat { return big.NewRat(v, 1) }

// parseFlag reads the seed's booleans: true/false or 1/0.
func parseFlag(s string) (bool, bool) {
	switch s {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// checkText refuses control characters (13); multiline allows tab, CR and LF.
func checkText(field, s string, multiline bool) *Error {
	if !utf8.ValidString(s) {
		return InvalidChars(field)
	}
	for _, c := range s {
		if multiline && (c == '\t' || c == '\n' || c == '\r') {
			continue
		}
		if unicode.IsControl(c) || c == utf8.RuneError || c == '\u2028' || c == '\u2029' {
			return InvalidChars(field)
		}
	}
	return nil
}

// clip shortens an echoed value for an error's args.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= defaultMaxValue {
		return s
	}
	r := []rune(s)
	return string(r[:defaultMaxValue]) + "…"
}
