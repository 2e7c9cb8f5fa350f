package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Bundle is a contract with the proofs that it is signed, as one JSON file
// anyone can check offline:
//
//	{"contract": C,
//	 "promises": [m[n+1,0], …, m[n+1,n−1]],            (the last round, M[n+1]), or
//	 "token": {"decision": "resolved", "token": "<base64 Sig_T({"t":"resolved","c":h})>"}}
//
// Either proof makes the contract signed; a file may carry both. An aborted
// token may be carried too (decision "aborted"), but it never makes the
// contract signed, nor proves it void.
type Bundle struct {
	Contract json.RawMessage `json:"contract"`
	Promises []string        `json:"promises,omitempty"`
	Token    *Answer         `json:"token,omitempty"`
}

// Answer is T's answer: a decision and its token, as the arbiter's routes
// write it.
type Answer struct {
	Decision string `json:"decision"`
	Token    string `json:"token"`
}

// MaxBundle bounds a bundle file.
const MaxBundle = 2 * MaxSize

// Verdict is what a bundle proves.
type Verdict struct {
	Hash   string
	Parsed *Parsed
	// Signed says whether the bundle proves the contract signed; By says how
	// ("promises" for M[n+1], "token" for T's resolved token).
	Signed bool
	By     []string
	// Problems lists the proofs present that do not verify.
	Problems []string
}

// ErrBadInput is wrapped when a bundle cannot be read: not JSON, or its
// contract is not a valid sxp-contract/1.
var ErrBadInput = errors.New("contract: bad input")

// VerifyBundle reads a bundle and checks its proofs. An error (wrapping
// ErrBadInput) means the bundle could not be read; a Verdict with Signed
// false means it was read and proves nothing.
func VerifyBundle(data []byte) (Verdict, error) {
	if len(data) > MaxBundle {
		return Verdict{}, fmt.Errorf("%w: larger than %d bytes", ErrBadInput, MaxBundle)
	}
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return Verdict{}, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Verdict{}, fmt.Errorf("%w: trailing data", ErrBadInput)
	}
	if len(b.Contract) == 0 {
		return Verdict{}, fmt.Errorf("%w: no contract", ErrBadInput)
	}
	p, err := Parse(b.Contract)
	if err != nil {
		return Verdict{}, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	v := Verdict{Hash: p.Hash(), Parsed: p}
	if b.Promises != nil {
		if err := p.VerifyRound(p.N()+1, b.Promises); err != nil {
			v.Problems = append(v.Problems, err.Error())
		} else {
			v.Signed = true
			v.By = append(v.By, "promises")
		}
	}
	if b.Token != nil {
		if err := p.VerifyToken(b.Token.Decision, b.Token.Token); err != nil {
			v.Problems = append(v.Problems, err.Error())
		} else if b.Token.Decision == Resolved {
			v.Signed = true
			v.By = append(v.By, "token")
		} else {
			v.Problems = append(v.Problems, "the token is T's aborted token: it does not make the contract signed")
		}
	}
	if b.Promises == nil && b.Token == nil {
		v.Problems = append(v.Problems, "no proof: neither promises (M[n+1]) nor a token")
	}
	return v, nil
}

// Verify reads the bundle in file and checks it (VerifyBundle).
func Verify(file string) (Verdict, error) {
	f, err := os.Open(file)
	if err != nil {
		return Verdict{}, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxBundle+1))
	if err != nil {
		return Verdict{}, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	return VerifyBundle(data)
}
