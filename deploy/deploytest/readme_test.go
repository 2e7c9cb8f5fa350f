package deploytest

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
)

var update = flag.Bool("update", false, "rewrite README.md's settings tables from the servers' --help")

// setting is one flag of a server, as its --help prints it.
type setting struct {
	flag, env, def, what string
}

var (
	flagLine   = regexp.MustCompile(`^  -(\S+)(?: \S+)?$`)
	envPart    = regexp.MustCompile(`\s*\(env (\w+)\)`)
	defaultEnd = regexp.MustCompile(`\s*\(default (.*)\)$`)
)

// parseHelp reads the flags section of a leaf command's --help (the flag
// package's PrintDefaults format).
func parseHelp(help string) []setting {
	var out []setting
	lines := strings.Split(help, "\n")
	for i := 0; i+1 < len(lines); i++ {
		m := flagLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		desc := strings.TrimSpace(lines[i+1])
		s := setting{flag: m[1]}
		if e := envPart.FindStringSubmatch(desc); e != nil {
			s.env = e[1]
		}
		desc = envPart.ReplaceAllString(desc, "")
		if d := defaultEnd.FindStringSubmatch(desc); d != nil {
			s.def = strings.Trim(d[1], `"`)
		}
		s.what = strings.TrimSpace(defaultEnd.ReplaceAllString(desc, ""))
		out = append(out, s)
		i++
	}
	return out
}

func markdownTable(settings []setting) string {
	var b strings.Builder
	b.WriteString("| flag | environment variable | default | what |\n|---|---|---|---|\n")
	code := func(s string) string {
		if s == "" {
			return "—"
		}
		return "`" + s + "`"
	}
	for _, s := range settings {
		fmt.Fprintf(&b, "| `--%s` | %s | %s | %s |\n", s.flag, code(s.env), code(s.def), strings.ReplaceAll(s.what, "|", `\|`))
	}
	return b.String()
}

// TestREADMESettings checks that README.md's configuration tables list
// every setting of sxp community and sxp clearing exactly as --help does,
// and that every server setting has an environment variable.
func TestREADMESettings(t *testing.T) {
	root := repoRoot(t)
	bin := sxptest.BuildSXP(t)
	readmePath := filepath.Join(root, "README.md")
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, server := range []string{"community", "clearing"} {
		out, err := exec.Command(bin, server, "--help").Output()
		if err != nil {
			t.Errorf("sxp %s --help: %v", server, err)
			continue
		}
		settings := parseHelp(string(out))
		if len(settings) < 3 {
			t.Errorf("sxp %s --help lists %d settings, want the server's settings", server, len(settings))
			continue
		}
		for _, s := range settings {
			if s.env == "" {
				t.Errorf("sxp %s: --%s has no environment variable", server, s.flag)
			}
		}
		begin, end := "<!-- settings: "+server+" -->\n", "<!-- /settings -->"
		i := strings.Index(readme, begin)
		if i < 0 {
			t.Errorf("README.md has no %q marker", strings.TrimSpace(begin))
			continue
		}
		j := strings.Index(readme[i:], end)
		if j < 0 {
			t.Errorf("README.md: %q is not closed by %q", strings.TrimSpace(begin), end)
			continue
		}
		got, want := readme[i+len(begin):i+j], markdownTable(settings)
		if got == want {
			continue
		}
		if *update {
			readme = readme[:i+len(begin)] + want + readme[i+j:]
			continue
		}
		t.Errorf("README.md's table of sxp %s settings is not what --help says; run\n"+
			"  deploy/test -run README ./deploy/deploytest -update\ngot:\n%s\nwant:\n%s", server, got, want)
	}
	if *update && readme != string(raw) {
		if err := os.WriteFile(readmePath, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
