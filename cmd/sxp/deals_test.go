package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// solveText runs "sxp deals solve" on text written to wants.txt.
func solveText(t *testing.T, text string, flags ...string) (code int, path, stdout, stderr string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "wants.txt")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	args := append([]string{"deals", "solve"}, flags...)
	code = run(context.Background(), append(args, path), &out, &errb)
	return code, path, out.String(), errb.String()
}

func TestDealsSolveBadInput(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown option", "#! ALLOW-DUMMIES FROBNICATE\n(a) x : y\n", `1: Unknown option "FROBNICATE"`},
		{"bad option value", "#! ITERATIONS=0\n(a) x : y\n", "1: ITERATIONS argument must be a positive integer"},
		{"bad seed", "#! SEED=abc\n", "1: SEED argument must be a positive integer"},
		{"unknown metric", "#! METRIC=MOST-FUN\n", `1: Unknown metric option "MOST-FUN"`},
		{"missing colon", "#! REQUIRE-COLONS\n(a) x : y\n(b) y x\n", "3: Missing colon with REQUIRE-COLONS selected"},
		{"missing user", "#! REQUIRE-USERNAMES\n(a) x : y\ny : x\n", "3: Missing username with REQUIRE-USERNAMES selected"},
		{"item offered twice", "(a) x : y\n(b) y : x\n\n(a) x : z\n", "4: Item x has multiple want lists (first at line 1)"},
		{"empty file", "", "1: no want lists"},
		{"only comments", "# nothing\n#! ALLOW-DUMMIES\n", "2: no want lists"},
		{"two colons", "(a) x : y : z\n", "1: Cannot have more that one colon on a line"},
		{"comment after item", "(a) x : y # z\n", "1: Comments (#...) cannot be used after beginning of line"},
		{"option after list", "(a) x : y\n#! ALLOW-DUMMIES\n", "2: Options (#!...) cannot be declared after first real want list"},
		{"unclosed username", "(a x : y\n", "1: Missing ')' in username"},
		{"two items before colon", "(a) x w : y\n", "1: Must have exactly one item before a colon (:)"},
		{"unclosed official names", "!BEGIN-OFFICIAL-NAMES\nx\n", "2: !BEGIN-OFFICIAL-NAMES without matching !END-OFFICIAL-NAMES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, path, stdout, stderr := solveText(t, tt.text)
			if code != 2 {
				t.Fatalf("exit status %d, want 2 (stderr %q)", code, stderr)
			}
			if stdout != "" {
				t.Fatalf("stdout %q, want nothing", stdout)
			}
			if want := path + ":" + tt.want + "\n"; stderr != want {
				t.Fatalf("stderr %q, want %q", stderr, want)
			}
		})
	}
}

func TestDealsSolveWarnings(t *testing.T) {
	tests := []struct {
		name, text, warning, trades string
	}{
		{"repeated want", "(a) x : y y\n(b) y : x\n", "1: **** Item y is repeated in want list for x.", "TRADE LOOPS (2 total trades):"},
		{"unknown want", "(a) x : nope y\n(b) y : x nope\n", "1: **** Unknown item nope (2 occurrences)", "TRADE LOOPS (2 total trades):"},
		{"not official", "!BEGIN-OFFICIAL-NAMES\nx\ny\n!END-OFFICIAL-NAMES\n(a) x : y\n(b) y : x\n(c) z : x\n",
			"7: **** Cannot define want list for z because it is not an official name.  (Usually indicates a typo by the item owner.)",
			"TRADE LOOPS (2 total trades):"},
		{"own item", "(a) x : x y\n(b) y : x\n", "1: **** Item x appears in its own want list.", "TRADE LOOPS (2 total trades):"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, path, stdout, stderr := solveText(t, tt.text)
			if code != 0 {
				t.Fatalf("exit status %d, want 0 (stderr %q)", code, stderr)
			}
			if want := path + ":" + tt.warning + "\n"; stderr != want {
				t.Fatalf("stderr %q, want %q", stderr, want)
			}
			if !strings.Contains(stdout, tt.trades) {
				t.Fatalf("stdout lacks %q:\n%s", tt.trades, stdout)
			}
		})
	}
}

func TestDealsSolveReport(t *testing.T) {
	text := `#! ALLOW-DUMMIES SHOW-ELAPSED-TIME
# alice takes either game for her book, through a dummy
(alice@leaf) book : %games
(alice@leaf) %games : chess go
(bob@oak) chess : book
(carol@oak) go : pen
(dave) pen : chess
`
	code, _, stdout, stderr := solveText(t, text)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	// the elapsed time varies: compare everything before it
	got, _, _ := strings.Cut(stdout, "Elapsed time = ")
	want := `Options: ALLOW-DUMMIES SHOW-ELAPSED-TIME

TRADE LOOPS (4 total trades):

(alice@leaf) book receives (carol@oak) go
(carol@oak) go    receives (dave) pen
(dave) pen        receives (bob@oak) chess
(bob@oak) chess   receives (alice@leaf) book

ITEM SUMMARY (4 total trades):

(alice@leaf) book receives (carol@oak) go    and sends to (bob@oak) chess
(bob@oak) chess   receives (alice@leaf) book and sends to (dave) pen
(carol@oak) go    receives (dave) pen        and sends to (alice@leaf) book
(dave) pen        receives (bob@oak) chess   and sends to (carol@oak) go

Num trades  = 4 of 4 items (100.0%)
Total cost  = 4 (avg 1.00)
Num groups  = 1
Group sizes = 4
Sum squares = 16
Num users   = 4 of 4 users trading
Metric      = Users-Trading [ users trading = 4 ]
`
	if got != want {
		t.Fatalf("report:\n%s\nwant:\n%s", got, want)
	}
	// caps: leaf, oak and dave's own community are three
	for _, tt := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--max-communities", "1"}, "TRADE LOOPS (0 total trades):"},
		{[]string{"--max-communities", "2"}, "(alice@leaf) book receives (bob@oak) chess\n(bob@oak) chess   receives (alice@leaf) book\n\nITEM"},
		{[]string{"--max-loop", "2"}, "TRADE LOOPS (2 total trades):"},
		{[]string{"--max-loop", "3"}, "TRADE LOOPS (2 total trades):"},
	} {
		code, _, stdout, stderr := solveText(t, text, tt.flags...)
		if code != 0 || !strings.Contains(stdout, tt.want) {
			t.Fatalf("%v: exit %d, stderr %q, stdout lacks %q:\n%s", tt.flags, code, stderr, tt.want, stdout)
		}
	}
}

func TestDealsSolveHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"deals", "solve", "--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"usage: sxp deals solve", "-max-loop", "-max-communities"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("help lacks %q:\n%s", want, out.String())
		}
	}
}
