package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
)

// contractCommand holds the tools for signed contracts (sxp-contract/1).
func contractCommand(stdin io.Reader, stdout io.Writer) *command {
	return &command{
		name:    "contract",
		summary: "sign and check contracts (sxp-contract/1)",
		subs: []*command{contractSignCommand(stdin, stdout), {
			name:    "verify",
			summary: "check offline that a contract file is signed",
			usage:   "sxp contract verify FILE|-",
			help: `Read a contract with its proofs (FILE, or - for standard input) and check,
offline, that it is signed: either by M[n+1], every party's Ed25519 promise
of the last round, or by the arbiter's resolved token, checked against the
arbiter key the contract names. The file is one JSON object:

  {"contract": {…sxp-contract/1…},
   "promises": ["<m[n+1,0]>", …, "<m[n+1,n-1]>"],
   "token": {"decision": "resolved", "token": "<base64>"}}

with "promises", "token" or both. Signatures and keys are standard base64
with padding. Prints the contract's hash h (lowercase hex SHA-256 of its
RFC 8785 form), its parties and legs, and the verdict.

Exit status: 0 signed; 1 read but not signed (no proof, a proof that does not
verify, or only an aborted token, which never proves a contract void);
2 bad input (unreadable, not JSON, not a valid sxp-contract/1).`,
			flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
				return func(ctx context.Context, args []string) error {
					if len(args) != 1 {
						return usagef("want one FILE (or -), got %d arguments", len(args))
					}
					return verifyContract(args[0], stdin, stdout)
				}
			},
		}},
	}
}

func verifyContract(name string, stdin io.Reader, stdout io.Writer) error {
	var v contract.Verdict
	var err error
	if name == "-" {
		var data []byte
		data, err = io.ReadAll(io.LimitReader(stdin, contract.MaxBundle+1))
		if err == nil {
			v, err = contract.VerifyBundle(data)
		}
	} else {
		v, err = contract.Verify(name)
	}
	if err != nil {
		// Every error here is bad input: unreadable, not JSON, not a contract.
		return exitError{2, fmt.Sprintf("%s: %s", name, strings.TrimPrefix(err.Error(), "contract: "))}
	}
	p := v.Parsed
	fmt.Fprintf(stdout, "contract: %s\n", v.Hash)
	fmt.Fprintf(stdout, "id: %s\n", p.ID)
	for i, party := range p.Parties {
		fmt.Fprintf(stdout, "party %d: %s (%s)\n", i, party.Member, party.Server)
	}
	for i, l := range p.Legs {
		what := "item"
		if l.Money != nil {
			what = l.Money.Value + " " + l.Money.Currency
		}
		fmt.Fprintf(stdout, "leg %d: %s -> %s: %s (%s)\n", i, p.Parties[l.From].Member, p.Parties[l.To].Member, l.Title, what)
	}
	fmt.Fprintf(stdout, "arbiter: %s\n", p.TTP.URL)
	for _, problem := range v.Problems {
		fmt.Fprintf(stdout, "problem: %s\n", strings.TrimPrefix(problem, "contract: "))
	}
	if !v.Signed {
		fmt.Fprintln(stdout, "signed: no")
		return exitError{1, name + ": not signed"}
	}
	var by []string
	for _, b := range v.By {
		switch b {
		case "promises":
			by = append(by, fmt.Sprintf("M[%d] (every party's promise of the last round)", p.N()+1))
		case "token":
			by = append(by, "the arbiter's resolved token")
		}
	}
	fmt.Fprintf(stdout, "signed: yes, by %s\n", strings.Join(by, " and "))
	return nil
}
