// Package wantlist reads math-trade want lists in TradeMaximizer's format
// and writes TradeMaximizer's report of the loops the deal finder found.
//
// The format, line by line (blank lines are skipped):
//
//	#! OPTION ...                 options, before any list or official name
//	# text                        a comment
//	!BEGIN-OFFICIAL-NAMES         then one name per line (its first word),
//	!END-OFFICIAL-NAMES           and only those names may have want lists
//	(user) item : want1 want2 ; want3     a want list, best first
//	item want1 want2              the older form, without user or colon
//	(user) %dummy : want1 want2   a dummy item, private to its user
//
// A ";" between wants adds BIG-STEP to the rank of the wants after it (each
// want adds SMALL-STEP). Names are matched without regard to case unless
// CASE-SENSITIVE, and print as first written. What TradeMaximizer stops on
// (an unknown option, a malformed line) is an *Error naming the line; an
// item with two want lists is one too (TradeMaximizer only warned). What it
// reports and goes on after (an unknown want, a want repeated on a list, a
// want list for a name that is not official) is a Warning, and the want or
// the list is skipped.
package wantlist

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/sxp-network/sxp/server/deals/finder"
)

// Priorities is a priority scheme: how a want's rank becomes its cost.
type Priorities int

const (
	NoPriorities Priorities = iota
	Linear                  // cost = rank
	Triangle                // cost = rank*(rank+1)/2
	Square                  // cost = rank*rank
	Scaled                  // cost = 1 + (rank-1)*2520/(last rank on the list)
	Explicit                // cost = the number in "want=number"
)

// Options are the #! options of a file.
type Options struct {
	Echo []string // every option as given (upper case), for the report

	CaseSensitive, RequireColons, RequireUsernames  bool
	HideErrors, HideRepeats, HideLoops, HideSummary bool
	HideNonTrades, HideStats, ShowMissing           bool
	SortByItem, AllowDummies, ShowElapsedTime       bool
	Verbose                                         bool

	Priorities   Priorities
	SmallStep    int64
	BigStep      int64
	NonTradeCost int64 // 0 unless given
	Iterations   int
	Seed         uint64
	Metric       finder.Metric
}

// Error is input the file cannot be read past: "LINE: message".
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Line, e.Msg) }

// Warning is something reported and skipped, at the line it was first seen.
type Warning struct {
	Line int
	Text string // TradeMaximizer's text, e.g. "**** Unknown item FOO (2 occurrences)"
}

// Item is an item with a want list.
type Item struct {
	Name  string // as written; a dummy is "%name for user (user)"
	User  string // "(user)" as written, "" when none
	Dummy bool
	Line  int
}

// File is a parsed want-list file: its options, items and want graph.
type File struct {
	Options  Options
	Items    []Item
	Graph    finder.Graph
	Warnings []Warning
	// Missing lists the official names without a want list (SHOW-MISSING).
	Missing []string
}

type rawList struct {
	line   int
	user   string // "(user)" or ""
	tokens []string
}

var explicitRe = regexp.MustCompile(`^[^=]+=[0-9]+$`)
var headerRe = regexp.MustCompile(`^(.*\)\s+)?[^(\s)]\S*$`)

// Parse reads a want-list file.
func Parse(r io.Reader) (*File, error) {
	f := &File{Options: Options{SmallStep: 1, BigStep: 9, Iterations: 1}}
	o := &f.Options
	var lists []rawList
	var official map[string]bool
	var officialOrder []string
	readingOfficial := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	lineNo := 0
	fail := func(msg string, a ...any) error { return &Error{lineNo, fmt.Sprintf(msg, a...)} }
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#!") {
			if len(lists) > 0 {
				return nil, fail("Options (#!...) cannot be declared after first real want list")
			}
			if official != nil {
				return nil, fail("Options (#!...) cannot be declared after official names")
			}
			for _, opt := range strings.Fields(strings.ToUpper(line[2:])) {
				if err := o.set(opt); err != nil {
					return nil, fail("%s", err.Error())
				}
				o.Echo = append(o.Echo, opt)
			}
			continue
		}
		if line[0] == '#' {
			continue
		}
		if strings.Contains(line, "#") {
			if !readingOfficial || strings.Contains(strings.FieldsFunc(line, isNameSep)[0], "#") {
				if readingOfficial {
					return nil, fail("# symbol cannot be used in an item name")
				}
				return nil, fail("Comments (#...) cannot be used after beginning of line")
			}
		}
		switch {
		case strings.EqualFold(line, "!BEGIN-OFFICIAL-NAMES"):
			if official != nil {
				return nil, fail("Cannot begin official names more than once")
			}
			if len(lists) > 0 {
				return nil, fail("Official names cannot be declared after first real want list")
			}
			official, readingOfficial = map[string]bool{}, true
			continue
		case strings.EqualFold(line, "!END-OFFICIAL-NAMES"):
			if !readingOfficial {
				return nil, fail("!END-OFFICIAL-NAMES without matching !BEGIN-OFFICIAL-NAMES")
			}
			readingOfficial = false
			continue
		}
		if readingOfficial {
			if line[0] == ':' {
				return nil, fail("Line cannot begin with colon")
			}
			if line[0] == '%' {
				return nil, fail("Cannot give official names for dummy items")
			}
			name := strings.FieldsFunc(line, isNameSep)[0]
			key := o.key(name)
			if official[key] {
				return nil, fail("Official name %s already defined", name)
			}
			official[key] = true
			officialOrder = append(officialOrder, name)
			continue
		}
		l, err := o.splitList(line)
		if err != nil {
			return nil, fail("%s", err.Error())
		}
		l.line = lineNo
		lists = append(lists, l)
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{lineNo + 1, err.Error()}
	}
	if readingOfficial {
		return nil, &Error{max(lineNo, 1), "!BEGIN-OFFICIAL-NAMES without matching !END-OFFICIAL-NAMES"}
	}
	if len(lists) == 0 {
		return nil, &Error{max(lineNo, 1), "no want lists"}
	}
	if err := f.build(lists, official); err != nil {
		return nil, err
	}
	if o.ShowMissing && official != nil {
		used := map[string]bool{}
		for _, it := range f.Items {
			used[o.key(it.Name)] = true
		}
		for _, name := range officialOrder {
			if !used[o.key(name)] {
				f.Missing = append(f.Missing, name)
			}
		}
	}
	return f, nil
}

func isNameSep(r rune) bool { return r == ':' || r == ' ' || r == '\t' }

func (o *Options) key(name string) string {
	if o.CaseSensitive {
		return name
	}
	return strings.ToUpper(name)
}

func number(opt, prefix string, positive bool) (int64, error) {
	num := opt[len(prefix):]
	ok := num != "" && strings.Trim(num, "0123456789") == ""
	if positive && ok {
		ok = num[0] != '0'
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil {
		kind := "a non-negative integer"
		if positive {
			kind = "a positive integer"
		}
		return 0, fmt.Errorf("%s argument must be %s", strings.TrimSuffix(prefix, "="), kind)
	}
	return v, nil
}

// set applies one upper-cased option.
func (o *Options) set(opt string) error {
	flags := map[string]*bool{
		"CASE-SENSITIVE": &o.CaseSensitive, "REQUIRE-COLONS": &o.RequireColons,
		"REQUIRE-USERNAMES": &o.RequireUsernames, "HIDE-ERRORS": &o.HideErrors,
		"HIDE-REPEATS": &o.HideRepeats, "HIDE-LOOPS": &o.HideLoops, "HIDE-SUMMARY": &o.HideSummary,
		"HIDE-NONTRADES": &o.HideNonTrades, "HIDE-STATS": &o.HideStats, "SHOW-MISSING": &o.ShowMissing,
		"SORT-BY-ITEM": &o.SortByItem, "ALLOW-DUMMIES": &o.AllowDummies,
		"SHOW-ELAPSED-TIME": &o.ShowElapsedTime, "VERBOSE": &o.Verbose, "DEBUG": &o.Verbose,
	}
	schemes := map[string]Priorities{"LINEAR": Linear, "TRIANGLE": Triangle, "SQUARE": Square,
		"SCALED": Scaled, "EXPLICIT": Explicit}
	if p, ok := flags[opt]; ok {
		*p = true
		return nil
	}
	if s, ok := strings.CutSuffix(opt, "-PRIORITIES"); ok && schemes[s] != 0 {
		o.Priorities = schemes[s]
		return nil
	}
	var err error
	var v int64
	switch {
	case strings.HasPrefix(opt, "PRIORITIES="):
		p, ok := schemes[opt[len("PRIORITIES="):]]
		if !ok {
			return fmt.Errorf("Unknown priority scheme %q", opt[len("PRIORITIES="):])
		}
		o.Priorities = p
	case strings.HasPrefix(opt, "SMALL-STEP="):
		o.SmallStep, err = number(opt, "SMALL-STEP=", false)
	case strings.HasPrefix(opt, "BIG-STEP="):
		o.BigStep, err = number(opt, "BIG-STEP=", false)
	case strings.HasPrefix(opt, "NONTRADE-COST="):
		o.NonTradeCost, err = number(opt, "NONTRADE-COST=", true)
	case strings.HasPrefix(opt, "ITERATIONS="):
		v, err = number(opt, "ITERATIONS=", true)
		if err == nil && v > 1_000_000 {
			err = fmt.Errorf("ITERATIONS argument must be at most 1000000")
		}
		o.Iterations = int(v)
	case strings.HasPrefix(opt, "SEED="):
		v, err = number(opt, "SEED=", true)
		o.Seed = uint64(v)
	case strings.HasPrefix(opt, "METRIC="):
		m := opt[len("METRIC="):]
		metrics := map[string]finder.Metric{"USERS-TRADING": finder.UsersTrading,
			"CHAIN-SIZES-SOS": finder.ChainSizesSOS, "USERS-SOS": finder.UsersSOS,
			"COMBINE-SHIPPING": finder.CombineShipping}
		mm, ok := metrics[m]
		if !ok {
			return fmt.Errorf("Unknown metric option %q", m)
		}
		o.Metric = mm
	default:
		return fmt.Errorf("Unknown option %q", opt)
	}
	return err
}

// splitList checks one want-list line and splits it into its user and
// tokens (item first, then wants and ";").
func (o *Options) splitList(line string) (rawList, error) {
	var l rawList
	if !strings.Contains(line, "(") && o.RequireUsernames {
		return l, fmt.Errorf("Missing username with REQUIRE-USERNAMES selected")
	}
	if line[0] == '(' {
		if strings.LastIndex(line, "(") > 0 {
			return l, fmt.Errorf("Cannot have more than one '(' per line")
		}
		end := strings.Index(line, ")")
		switch {
		case end == -1:
			return l, fmt.Errorf("Missing ')' in username")
		case end == len(line)-1:
			return l, fmt.Errorf("Username cannot appear on a line by itself")
		case strings.LastIndex(line, ")") > end:
			return l, fmt.Errorf("Cannot have more than one ')' per line")
		case end == 1:
			return l, fmt.Errorf("Cannot have empty parentheses")
		}
		l.user = line[:end+1]
		line = line[end+1:]
	} else if strings.Contains(line, "(") {
		return l, fmt.Errorf("Username can only be used at the front of a want list")
	} else if strings.Contains(line, ")") {
		return l, fmt.Errorf("Bad ')' on a line that does not have a '('")
	}
	line = strings.ReplaceAll(line, ";", " ; ")
	colon := strings.Index(line, ":")
	if semi := strings.Index(line, ";"); semi != -1 {
		if semi < colon {
			return l, fmt.Errorf("Semicolon cannot appear before colon")
		}
		if strings.TrimSpace(line[:semi]) == "" {
			return l, fmt.Errorf("Semicolon cannot appear before first item on line")
		}
	}
	if colon != -1 {
		if strings.LastIndex(line, ":") != colon {
			return l, fmt.Errorf("Cannot have more that one colon on a line")
		}
		header := strings.TrimSpace(line[:colon])
		if header == "" || !headerRe.MatchString(header) {
			return l, fmt.Errorf("Must have exactly one item before a colon (:)")
		}
		line = line[:colon] + " " + line[colon+1:]
	} else if o.RequireColons {
		return l, fmt.Errorf("Missing colon with REQUIRE-COLONS selected")
	}
	l.tokens = strings.Fields(line)
	if len(l.tokens) == 0 {
		return l, fmt.Errorf("Username cannot appear on a line by itself")
	}
	return l, nil
}

// build makes the items and the want graph, as TradeMaximizer's buildGraph
// does: items first, then each list's wants in order.
func (f *File) build(lists []rawList, official map[string]bool) error {
	o := &f.Options
	byKey := map[string]int{}
	users := map[string]int{}
	communities := map[string]int{}
	owners := make([]int, 0, len(lists)) // list index -> item, -1 skipped
	warn := func(line int, format string, a ...any) {
		f.Warnings = append(f.Warnings, Warning{line, fmt.Sprintf(format, a...)})
	}
	for _, l := range lists {
		name := l.tokens[0]
		dummy := name[0] == '%'
		if dummy {
			switch {
			case l.user == "":
				warn(l.line, "**** Dummy item %s declared without a username.", name)
				owners = append(owners, -1)
				continue
			case !o.AllowDummies:
				warn(l.line, "**** Dummy items not allowed. (%s)", name)
				owners = append(owners, -1)
				continue
			}
			name += " for user " + l.user
		}
		key := o.key(name)
		if official != nil && !dummy && !official[key] {
			warn(l.line, "**** Cannot define want list for %s because it is not an official name.  (Usually indicates a typo by the item owner.)", name)
			owners = append(owners, -1)
			continue
		}
		if first, ok := byKey[key]; ok {
			return &Error{l.line, fmt.Sprintf("Item %s has multiple want lists (first at line %d)", name, f.Items[first].Line)}
		}
		idx := len(f.Items)
		byKey[key] = idx
		f.Items = append(f.Items, Item{Name: name, User: l.user, Dummy: dummy, Line: l.line})
		it := finder.Item{User: -1, Community: -1, Dummy: dummy}
		if l.user != "" {
			uk := o.key(l.user)
			u, ok := users[uk]
			if !ok {
				u = len(users)
				users[uk] = u
			}
			it.User = u
			community := uk
			if at := strings.LastIndex(uk, "@"); at >= 0 {
				community = uk[at+1 : len(uk)-1]
			}
			c, ok := communities[community]
			if !ok {
				c = len(communities)
				communities[community] = c
			}
			it.Community = c
		}
		f.Graph.Items = append(f.Graph.Items, it)
		owners = append(owners, idx)
	}
	// items without a user are each a community of their own
	for i := range f.Graph.Items {
		if f.Graph.Items[i].Community < 0 {
			f.Graph.Items[i].Community = len(communities) + i
		}
	}
	f.Graph.Users = len(users)

	type unknown struct{ line, count int }
	unknowns := map[string]*unknown{}
	var unknownOrder []string
	for li, l := range lists {
		from := owners[li]
		if from < 0 {
			continue
		}
		fromItem := f.Items[from]
		fromUser := f.Graph.Items[from].User
		seen := map[int]bool{}
		var wants []finder.Want
		rank := int64(1)
		for _, tok := range l.tokens[1:] {
			if tok == ";" {
				rank += o.BigStep
				continue
			}
			name := tok
			if strings.Contains(tok, "=") {
				if o.Priorities != Explicit {
					warn(l.line, "**** Cannot use '=' annotation in item %s in want list for item %s unless using EXPLICIT_PRIORITIES.", tok, fromItem.Name)
					continue
				}
				if !explicitRe.MatchString(tok) {
					warn(l.line, "**** Item %s in want list for item %s must have the format 'name=number'.", tok, fromItem.Name)
					continue
				}
				parts := strings.SplitN(tok, "=", 2)
				v, err := strconv.ParseInt(parts[1], 10, 64)
				if err != nil || v < 1 || v > 1<<20 {
					warn(l.line, "**** Explicit priority must be positive in item %s in want list for item %s.", tok, fromItem.Name)
					continue
				}
				rank, name = v, parts[0]
			}
			if name[0] == '%' {
				if fromItem.User == "" {
					warn(l.line, "**** Dummy item %s used in want list for item %s, which does not have a username.", name, fromItem.Name)
					continue
				}
				name += " for user " + fromItem.User
			}
			to, ok := byKey[o.key(name)]
			if !ok {
				if official != nil && official[o.key(name)] {
					rank += o.SmallStep // an official item without a want list
					continue
				}
				k := o.key(name)
				if u := unknowns[k]; u != nil {
					u.count++
				} else {
					unknowns[k] = &unknown{l.line, 1}
					unknownOrder = append(unknownOrder, name)
				}
				continue
			}
			toItem := f.Graph.Items[to]
			switch {
			case to == from:
				warn(l.line, "**** Item %s appears in its own want list.", name)
			case seen[to]:
				if !o.HideRepeats {
					warn(l.line, "**** Item %s is repeated in want list for %s.", name, fromItem.Name)
				}
			case !toItem.Dummy && fromUser >= 0 && toItem.User == fromUser:
				warn(l.line, "**** Item %s contains item %s from the same user (%s)", fromItem.Name, f.Items[to].Name, strings.Trim(fromItem.User, "()"))
			default:
				seen[to] = true
				wants = append(wants, finder.Want{Item: to, Cost: rank})
				rank += o.SmallStep
			}
		}
		last := int64(1)
		if len(wants) > 0 {
			last = wants[len(wants)-1].Cost
		}
		for k := range wants {
			wants[k].Cost = o.cost(wants[k].Cost, last)
		}
		f.Graph.Items[from].Wants = wants
	}
	for _, name := range unknownOrder {
		u := unknowns[o.key(name)]
		plural := "s"
		if u.count == 1 {
			plural = ""
		}
		warn(u.line, "**** Unknown item %s (%d occurrence%s)", name, u.count, plural)
	}
	return nil
}

// cost turns a rank into a priority cost.
func (o *Options) cost(rank, last int64) int64 {
	switch o.Priorities {
	case Linear, Explicit:
		return rank
	case Triangle:
		return rank * (rank + 1) / 2
	case Square:
		return rank * rank
	case Scaled:
		if last <= 1 {
			return 1
		}
		return 1 + (rank-1)*2520/(last)
	default:
		return 1
	}
}
