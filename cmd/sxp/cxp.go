package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sxp-network/sxp/clearing/cxp"
	"github.com/sxp-network/sxp/clearing/cxp/httpsig"
)

// sxp cxp …: a small signed CXP client, so a person can talk to any circle
// from a shell with a community's id and key.

func cxpFlags(fs *flag.FlagSet) func() (*cxp.Client, error) {
	url := envString(fs, "url", "SXP_CIRCLE_URL", "", "the circle's base URL, e.g. http://127.0.0.1:8080")
	id := envString(fs, "id", "SXP_COMMUNITY_ID", "", "the community id the circle knows you by (keyid)")
	key := envSecret(fs, "key", "SXP_CIRCLE_KEY", "the key printed by 'sxp admin community add'")
	timeout := envDuration(fs, "timeout", "SXP_CXP_TIMEOUT", 30*time.Second, "how long to wait for the answer")
	return func() (*cxp.Client, error) {
		for name, v := range map[string]string{"url": *url, "id": *id, "key": *key} {
			if v == "" {
				return nil, usagef("--%s is required", name)
			}
		}
		return &cxp.Client{BaseURL: *url, Signer: httpsig.Signer{KeyID: *id, Key: []byte(*key)},
			HTTP: &http.Client{Timeout: *timeout}}, nil
	}
}

// decimalFlag parses the required decimal flag --name.
func decimalFlag(name, v string) (cxp.Decimal, error) {
	if v == "" {
		return "", usagef("--%s is required", name)
	}
	return optionalDecimal(name, v)
}

// optionalDecimal parses the decimal flag --name; unset is "".
func optionalDecimal(name, v string) (cxp.Decimal, error) {
	if v == "" {
		return "", nil
	}
	d, err := cxp.ParseDecimal(v)
	if err != nil {
		return "", usagef("--%s: not a number", name)
	}
	return d, nil
}

// cxpLeaf prints the answer as JSON; a refusal also fails the command.
func cxpLeaf(stdout io.Writer, name, summary, usage string, setup func(fs *flag.FlagSet) func(ctx context.Context, c *cxp.Client) (any, error)) *command {
	return &command{name: name, summary: summary, usage: usage,
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			client := cxpFlags(fs)
			call := setup(fs)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				c, err := client()
				if err != nil {
					return err
				}
				resp, err := call(ctx, c)
				if resp != nil {
					if perr := printJSON(stdout, resp); perr != nil {
						return perr
					}
				}
				return err
			}
		}}
}

func cxpCommand(stdout io.Writer) *command {
	return &command{
		name:    "cxp",
		summary: "talk to an intertrading circle with a community's key (handshake, clients, prepare, try)",
		help: `A signed CXP client for admins: each command sends one request to the circle
(--url, --id, --key or SXP_CIRCLE_URL, SXP_COMMUNITY_ID, SXP_CIRCLE_KEY) and prints
its answer as JSON. A refused request prints the answer and exits 1.`,
		subs: []*command{
			cxpLeaf(stdout, "handshake", "POST /server: announce the community and read its account",
				"sxp cxp handshake --uri URI --mail ADDRESS --ticks RATE [--traders N] [--transactions N] [--first-trade UNIX]",
				func(fs *flag.FlagSet) func(context.Context, *cxp.Client) (any, error) {
					uri := fs.String("uri", "", "the community's CXP uri (its base URL)")
					mail := fs.String("mail", "", "the community admin's mail address")
					ticks := fs.String("ticks", "", "declared rate: base units per unit of the currency")
					traders := fs.Int64("traders", 0, "number of traders")
					txs := fs.Int64("transactions", 0, "transactions in the last 30 days")
					first := fs.Int64("first-trade", 0, "unix time of the first trade")
					return func(ctx context.Context, c *cxp.Client) (any, error) {
						t, err := decimalFlag("ticks", *ticks)
						if err != nil {
							return nil, err
						}
						resp, err := c.Handshake(ctx, cxp.HandshakeRequest{API: "1.0", Mail: *mail, Ticks: t, URI: *uri,
							Traders: *traders, Transactions: *txs, FirstTrade: *first})
						return answer(resp, err)
					}
				}),
			cxpLeaf(stdout, "clients", "GET /server/clients: the circle's other communities and their rates",
				"sxp cxp clients",
				func(fs *flag.FlagSet) func(context.Context, *cxp.Client) (any, error) {
					return func(ctx context.Context, c *cxp.Client) (any, error) {
						resp, err := c.Clients(ctx)
						return answer(resp, err)
					}
				}),
			cxpLeaf(stdout, "prepare", "GET /transactions: report the balance and read spend and earn limits",
				"sxp cxp prepare [--balance N] [--volume N] [--integrity=true]",
				func(fs *flag.FlagSet) func(context.Context, *cxp.Client) (any, error) {
					balance := fs.String("balance", "", "the community's import/export balance in base units")
					volume := fs.String("volume", "", "last 365 days' volume in base units")
					integrity := fs.String("integrity", "", "whether the community's balances add up to zero (true/false)")
					return func(ctx context.Context, c *cxp.Client) (any, error) {
						var req cxp.PrepareRequest
						var err error
						if req.Balance, err = optionalDecimal("balance", *balance); err != nil {
							return nil, err
						}
						if req.Volume, err = optionalDecimal("volume", *volume); err != nil {
							return nil, err
						}
						switch *integrity {
						case "":
						case "true", "1":
							t := true
							req.Integrity = &t
						case "false", "0":
							f := false
							req.Integrity = &f
						default:
							return nil, usagef("--integrity: want true or false")
						}
						resp, err := c.Prepare(ctx, req)
						return answer(resp, err)
					}
				}),
			cxpLeaf(stdout, "try", "PUT /transactions: validate (default) or write (--really) a payment",
				"sxp cxp try --src URI --dest URI --payer NAME --payee NAME --quantity N [--description TEXT] [--really] [--temp-id ID]",
				func(fs *flag.FlagSet) func(context.Context, *cxp.Client) (any, error) {
					src := fs.String("src", "", "the paying community's uri (yours)")
					dest := fs.String("dest", "", "the payee community's uri")
					payer := fs.String("payer", "", "the paying member")
					payee := fs.String("payee", "", "the member paid")
					qty := fs.String("quantity", "", "amount in base units")
					desc := fs.String("description", "", "what it is for")
					really := fs.Bool("really", false, "write it (default: validate only)")
					tempID := fs.String("temp-id", "", "idempotency id (default: random)")
					return func(ctx context.Context, c *cxp.Client) (any, error) {
						q, err := decimalFlag("quantity", *qty)
						if err != nil {
							return nil, err
						}
						id := *tempID
						if id == "" {
							b := make([]byte, 12)
							rand.Read(b)
							id = "cli-" + hex.EncodeToString(b)
						}
						resp, err := c.Try(ctx, cxp.TransactionRequest{Payer: *payer, PayerURL: *src, Payee: *payee,
							PayeeURL: *dest, SrcURL: *src, DestURL: *dest, Quantity: q, Description: *desc,
							Really: *really, TempID: id})
						return answer(resp, err)
					}
				}),
		},
	}
}

// answer keeps a CXP answer for printing, also when it is a refusal.
func answer[T any](resp T, err error) (any, error) {
	if err == nil {
		return resp, nil
	}
	if e, ok := cxp.AsError(err); ok {
		return e.Status(), fmt.Errorf("refused: code %d: %s", e.Code, e.Message)
	}
	return nil, err
}
