package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/server/client"
)

// contractSignCommand is 'sxp contract sign': a member who holds their own
// key signs their promises (and, on a conflict, their resolve request) as
// the rounds need them.
func contractSignCommand(stdin io.Reader, stdout io.Writer) *command {
	return &command{
		name:    "sign",
		summary: "sign a contract with your own key, round by round",
		usage:   "sxp contract sign --key FILE --server URL --token TOKEN [--yes] [--poll 1s] [--wait 10m] H",
		help: `For a member who registered their own public key (PUT /api/v1/me/contract-key):
read contract H from your home server, print it, ask for confirmation, then
sign with the Ed25519 private key in FILE each promise m[r] = Sig({"t":"promise",
"c":H,"r":r}) your party needs, and the resolve request if your server has to
ask the arbiter, polling until the contract is signed or aborted.

FILE holds the key as PEM ("PRIVATE KEY", PKCS #8) or as standard base64 of
the 32-byte seed or the 64-byte private key. TOKEN is a session token of
yours (POST /api/v1/session). --yes skips the confirmation.

Exit status: 0 signed; 1 aborted, failed, declined, or still unsigned after
--wait; 2 bad input.`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			keyFile := fs.String("key", "", "your Ed25519 private key `FILE`")
			server := fs.String("server", "", "your home server's base `URL`")
			token := fs.String("token", "", "your session `TOKEN`")
			yes := fs.Bool("yes", false, "sign without asking")
			poll := fs.Duration("poll", time.Second, "how often to ask the server what is needed")
			wait := fs.Duration("wait", 10*time.Minute, "give up after this long")
			return func(ctx context.Context, args []string) error {
				if len(args) != 1 || !contract.ValidHash(args[0]) {
					return usagef("want one contract hash H (64 lowercase hex digits)")
				}
				if *keyFile == "" || *server == "" || *token == "" {
					return usagef("--key, --server and --token are required")
				}
				if *poll <= 0 || *wait <= 0 {
					return usagef("--poll and --wait must be positive")
				}
				priv, err := readPrivateKey(*keyFile)
				if err != nil {
					return exitError{2, err.Error()}
				}
				s := signer{c: client.New(*server).WithToken(*token), h: args[0], priv: priv, out: stdout,
					in: bufio.NewReader(stdin), poll: *poll}
				ctx, cancel := context.WithTimeout(ctx, *wait)
				defer cancel()
				return s.run(ctx, *yes)
			}
		},
	}
}

// readPrivateKey reads an Ed25519 private key: PEM PKCS #8, or base64 of
// its seed or of the whole key.
func readPrivateKey(file string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	if b, _ := pem.Decode(raw); b != nil {
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("--key %s: %w", file, err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("--key %s: not an Ed25519 key", file)
		}
		return priv, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	switch {
	case err != nil:
	case len(b) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case len(b) == ed25519.PrivateKeySize:
		return ed25519.PrivateKey(b), nil
	}
	return nil, fmt.Errorf("--key %s: neither PEM PKCS #8 nor base64 of a 32-byte seed or 64-byte Ed25519 key", file)
}

type signer struct {
	c    *client.Client
	h    string
	priv ed25519.PrivateKey
	out  io.Writer
	in   *bufio.Reader
	poll time.Duration
}

func (s signer) run(ctx context.Context, yes bool) error {
	cur, err := s.c.Contract(ctx, s.h)
	if err != nil {
		return exitError{2, fmt.Sprintf("contract %s: %v", s.h, err)}
	}
	p, err := contract.Parse(cur.Contract)
	if err != nil || p.Hash() != s.h {
		return exitError{2, fmt.Sprintf("contract %s: the server's copy is not a valid contract with that hash (%v)", s.h, err)}
	}
	fmt.Fprintf(s.out, "contract: %s\nyou: %s, party %d\n", s.h, cur.Member, cur.Party)
	for i, l := range p.Legs {
		what := "item"
		if l.Money != nil {
			what = l.Money.Value + " " + l.Money.Currency
		}
		fmt.Fprintf(s.out, "leg %d: %s gives %s (%s) to %s\n", i, p.Parties[l.From].Member, l.Title, what, p.Parties[l.To].Member)
	}
	fmt.Fprintf(s.out, "deadline: %s\narbiter: %s\n", p.Deadline, p.TTP.URL)
	pub := s.priv.Public().(ed25519.PublicKey)
	if !bytes.Equal(pub, p.Key(cur.Party)) {
		return exitError{2, fmt.Sprintf("the key in --key is not party %d's key in the contract", cur.Party)}
	}
	if !yes {
		fmt.Fprint(s.out, "Sign this contract? [y/N] ")
		line, _ := s.in.ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(s.out, "not signed")
			return exitError{1, "declined"}
		}
	}
	for {
		switch cur.State {
		case "signed":
			fmt.Fprintln(s.out, "signed")
			return nil
		case "aborted", "failed":
			fmt.Fprintf(s.out, "%s: %s\n", cur.State, cur.Note)
			return exitError{1, cur.State}
		}
		switch {
		case cur.Needs != nil && cur.Needs.Round > 0:
			r := cur.Needs.Round
			if cur, err = s.c.Promise(ctx, s.h, r, contract.Sign(s.priv, contract.PromiseMessage(s.h, r))); err != nil {
				return s.failed(err)
			}
			fmt.Fprintf(s.out, "round %d: promise sent\n", r)
			continue
		case cur.Needs != nil && cur.Needs.Resolve != nil:
			l := *cur.Needs.Resolve
			if cur, err = s.c.ResolveRequest(ctx, s.h, contract.Sign(s.priv, contract.ResolveMessage(s.h, l))); err != nil {
				return s.failed(err)
			}
			fmt.Fprintf(s.out, "resolve request at level %d signed: your server asks the arbiter\n", l)
			continue
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(s.out, "still %s in round %d\n", cur.State, cur.Round)
			return exitError{1, "gave up waiting"}
		case <-time.After(s.poll):
		}
		if cur, err = s.c.Contract(ctx, s.h); err != nil {
			return s.failed(err)
		}
	}
}

func (s signer) failed(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return exitError{1, "gave up waiting"}
	}
	return exitError{1, err.Error()}
}
