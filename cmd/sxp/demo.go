package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sxp-network/sxp/server/client"
)

// demoCommand seeds running community servers with demo members,
// announcements, local payments and intertrades, all through the public API,
// as members would. deploy/run calls it once after the first start.
func demoCommand(stdout io.Writer) *command {
	return &command{
		name:    "demo",
		summary: "seed running community servers with demo members, announcements and trades",
		usage:   "sxp demo [--timeout 2m] ID=URL [ID=URL]",
		help: `Seed one or two running community servers with demo data through their API:
three members each (random passwords), announcements, local payments, a
message (carol to alice, left unread) and,
with two communities joined to the same circle, intertrades between them.
Each community is given as ID=URL, e.g. leaf=http://127.0.0.1:8081; the ID is
the community's id in the circle (used in user@ID payment addresses).

Prints one line per login, e.g.
  alice@leaf            password: 4kq7-mz2p-x9dw   (Alice Green, member)
Run it once: it registers new members and fails if they already exist.`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
			return func(ctx context.Context, args []string) error {
				if len(args) < 1 || len(args) > 2 {
					return usagef("give one or two communities as ID=URL")
				}
				var sites []demoSite
				for _, a := range args {
					id, base, ok := strings.Cut(a, "=")
					u, err := url.Parse(base)
					if !ok || id == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
						return usagef("%q is not ID=URL (e.g. leaf=http://127.0.0.1:8081)", a)
					}
					sites = append(sites, demoSite{id: id, base: strings.TrimRight(base, "/")})
				}
				ctx, cancel := context.WithTimeout(ctx, *timeout)
				defer cancel()
				return seedDemo(ctx, stdout, &http.Client{Timeout: 30 * time.Second}, sites)
			}
		},
	}
}

type demoSite struct {
	id, base string
}

type demoMember struct {
	username, displayName string
	offers                []demoAnnouncement
}

type demoAnnouncement struct {
	kind, title, description, category, price, place string
}

type demoPayment struct {
	from, to, amount, description string // to is "user" or "user@community"
}

// demoCast is who lives where: the first community given gets the first
// cast, the second the second.
var demoCast = [][]demoMember{
	{
		{"alice", "Alice Green", []demoAnnouncement{
			{"offer", "Fresh vegetables from my garden", "Carrots, beans and kale, picked the morning you come.", "food", "3.00", "Leaf Valley allotments"},
			{"want", "Help with a leaking tap", "An hour of plumbing help in my kitchen.", "services", "", "Leaf Valley"},
		}},
		{"bob", "Bob Baker", []demoAnnouncement{
			{"offer", "Sourdough bread", "A large rye sourdough loaf, baked on Saturdays.", "food", "4.50", "Mill Lane"},
		}},
		{"carol", "Carol Wheeler", []demoAnnouncement{
			{"offer", "Bicycle repair", "Punctures, brakes and gears; bring the bike.", "services", "8.00", "Station Road"},
			{"want", "Vegetable seedlings", "Tomato and courgette seedlings for my balcony.", "goods", "", ""},
		}},
	},
	{
		{"dmitri", "Dmitri Oak", []demoAnnouncement{
			{"offer", "Guitar lessons", "One hour of beginner guitar, instrument provided.", "skills", "10.00", "Acorn Hill community hall"},
		}},
		{"erin", "Erin Hazel", []demoAnnouncement{
			{"offer", "Dog walking", "Weekday mornings, any size of dog.", "services", "", "Acorn Hill"},
			{"want", "Fresh bread", "A loaf every week.", "food", "", ""},
		}},
		{"femi", "Femi Ash", []demoAnnouncement{
			{"offer", "Computer help", "Setting up phones and laptops, backups, printers.", "skills", "6.00", ""},
		}},
	},
}

// demoLocal are local payments inside each community, by cast.
var demoLocal = [][]demoPayment{
	{
		{"bob", "alice", "6.00", "two bags of vegetables"},
		{"carol", "bob", "4.50", "a sourdough loaf"},
		{"alice", "carol", "8.00", "fixing my bicycle brakes"},
	},
	{
		{"erin", "dmitri", "10.00", "a guitar lesson"},
		{"dmitri", "femi", "6.00", "laptop backup"},
	},
}

// seedDemo registers the cast, logs each member in, posts announcements and
// makes payments, printing the logins as it goes.
func seedDemo(ctx context.Context, stdout io.Writer, hc *http.Client, sites []demoSite) error {
	clients := map[string]*client.Client{} // "user@community" -> logged in
	firstOffer := map[string]int64{}       // "user@community" -> the id of their first offer
	for i, s := range sites {
		for _, m := range demoCast[i] {
			password := demoPassword()
			c := &client.Client{BaseURL: s.base, HTTP: hc}
			if _, err := c.Register(ctx, m.username, password, m.displayName); err != nil {
				return fmt.Errorf("register %s@%s: %w", m.username, s.id, err)
			}
			if _, err := c.Login(ctx, m.username, password); err != nil {
				return fmt.Errorf("log in %s@%s: %w", m.username, s.id, err)
			}
			clients[m.username+"@"+s.id] = c
			fmt.Fprintf(stdout, "  %-20s  password: %s   (%s, member)\n", m.username+"@"+s.id, password, m.displayName)
			for _, a := range m.offers {
				na := client.NewAnnouncement{Kind: a.kind, Title: a.title, Description: a.description, Category: a.category, Place: a.place}
				if a.price != "" {
					na.Price = &a.price
				}
				ann, err := c.CreateAnnouncement(ctx, na)
				if err != nil {
					return fmt.Errorf("announcement %q of %s@%s: %w", a.title, m.username, s.id, err)
				}
				if key := m.username + "@" + s.id; a.kind == "offer" && firstOffer[key] == 0 {
					firstOffer[key] = ann.ID
				}
			}
		}
	}
	pay := func(s demoSite, p demoPayment) error {
		_, err := clients[p.from+"@"+s.id].Pay(ctx, client.PaymentRequest{
			To: p.to, Amount: p.amount, Description: p.description,
			IdempotencyKey: "demo-" + p.from + "-" + strings.ReplaceAll(p.to, "@", "-") + "-" + p.amount,
		})
		if err != nil {
			return fmt.Errorf("payment %s@%s -> %s %s: %w", p.from, s.id, p.to, p.amount, err)
		}
		return nil
	}
	n := 0
	for i, s := range sites {
		for _, p := range demoLocal[i] {
			if err := pay(s, p); err != nil {
				return err
			}
			n++
		}
	}
	fmt.Fprintf(stdout, "demo: %d local payments\n", n)
	// A message about an offer, left unread: alice sees the count in her
	// navigation bar.
	if carol, ok := clients["carol@"+sites[0].id]; ok {
		if _, err := carol.SendMessage(ctx, "alice", "Hello Alice, are there still beans this week? I could come by on Saturday.",
			firstOffer["alice@"+sites[0].id]); err != nil {
			return fmt.Errorf("message carol@%s -> alice: %w", sites[0].id, err)
		}
		fmt.Fprintf(stdout, "demo: 1 message (carol to alice about her vegetables, unread)\n")
	}
	if len(sites) == 2 {
		a, b := sites[0], sites[1]
		inter := []struct {
			site demoSite
			p    demoPayment
		}{
			{a, demoPayment{"carol", "femi@" + b.id, "8.00", "help with my new phone"}},
			{b, demoPayment{"erin", "bob@" + a.id, "3.00", "a loaf of sourdough, delivered"}},
		}
		for _, x := range inter {
			if err := pay(x.site, x.p); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "demo: %d intertrades through the circle\n", len(inter))
	}
	return nil
}

// demoPassword returns a random password such as 4kq7-mz2p-x9dw.
func demoPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	var sb strings.Builder
	for i, x := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(alphabet[int(x)%len(alphabet)])
	}
	return sb.String()
}
