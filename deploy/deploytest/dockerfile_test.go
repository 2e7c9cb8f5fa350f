package deploytest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// repoRoot is the repository's top directory, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// stage is one FROM … section of a Dockerfile.
type stage struct {
	from, name string
	instr      []*parser.Node
}

func parseStages(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	for _, w := range res.Warnings {
		t.Errorf("%s: warning: %s", path, w.Short)
	}
	var stages []stage
	for _, n := range res.AST.Children {
		if strings.EqualFold(n.Value, "from") {
			s := stage{}
			args := words(n)
			if len(args) > 0 {
				s.from = args[0]
			}
			if len(args) == 3 && strings.EqualFold(args[1], "as") {
				s.name = args[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if !strings.EqualFold(n.Value, "arg") {
				t.Errorf("%s line %d: %s before the first FROM", path, n.StartLine, n.Value)
			}
			continue
		}
		stages[len(stages)-1].instr = append(stages[len(stages)-1].instr, n)
	}
	return stages
}

// words returns an instruction's arguments.
func words(n *parser.Node) []string {
	var out []string
	for a := n.Next; a != nil; a = a.Next {
		out = append(out, a.Value)
	}
	return out
}

func find(s stage, name string) []*parser.Node {
	var out []*parser.Node
	for _, n := range s.instr {
		if strings.EqualFold(n.Value, name) {
			out = append(out, n)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	stages := parseStages(t, filepath.Join(repoRoot(t), "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("got %d stages, want a multi-stage build (builder + runtime)", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	t.Run("builder", func(t *testing.T) {
		if !strings.HasPrefix(build.from, "golang:") {
			t.Errorf("first stage FROM %q, want a golang: image", build.from)
		}
		if build.name == "" {
			t.Errorf("first stage has no name (FROM … AS build) for COPY --from")
		}
		static := false
		for _, n := range find(build, "env") {
			if slices.Contains(words(n), "CGO_ENABLED") && slices.Contains(words(n), "0") {
				static = true
			}
		}
		for _, n := range find(build, "run") {
			if strings.Contains(strings.Join(words(n), " "), "CGO_ENABLED=0") {
				static = true
			}
		}
		if !static {
			t.Errorf("builder never sets CGO_ENABLED=0: the binary would not be static")
		}
		built := false
		for _, n := range find(build, "run") {
			if strings.Contains(strings.Join(words(n), " "), "go build") && strings.Contains(strings.Join(words(n), " "), "./cmd/sxp") {
				built = true
			}
		}
		if !built {
			t.Errorf("builder has no RUN go build … ./cmd/sxp")
		}
	})

	t.Run("runtime", func(t *testing.T) {
		if strings.HasPrefix(final.from, "golang") {
			t.Errorf("final stage FROM %q: the runtime image must not carry the toolchain", final.from)
		}
		if !strings.HasPrefix(final.from, "alpine:") && !strings.HasPrefix(final.from, "gcr.io/distroless/static") {
			t.Errorf("final stage FROM %q, want a small base (alpine or distroless/static)", final.from)
		}
		copied := false
		for _, n := range find(final, "copy") {
			for _, f := range n.Flags {
				if f == "--from="+build.name {
					copied = true
				}
			}
		}
		if !copied {
			t.Errorf("final stage never copies from the %q stage", build.name)
		}
		users := find(final, "user")
		if len(users) == 0 {
			t.Fatalf("final stage has no USER: it would run as root")
		}
		user := words(users[len(users)-1])[0]
		if u, _, _ := strings.Cut(user, ":"); u == "root" || u == "0" {
			t.Errorf("USER %s, want a non-root user", user)
		}
		hc := find(final, "healthcheck")
		if len(hc) != 1 {
			t.Fatalf("got %d HEALTHCHECK instructions, want 1", len(hc))
		}
		cmd := words(hc[0])
		if len(cmd) == 0 || cmd[0] != "CMD" {
			t.Fatalf("HEALTHCHECK %v, want HEALTHCHECK … CMD …", cmd)
		}
		hcLine := strings.Join(cmd[1:], " ")
		if !strings.Contains(hcLine, "sxp healthcheck") || !strings.Contains(hcLine, "/healthz") {
			t.Errorf("HEALTHCHECK runs %q, want the binary's own check of /healthz (no curl in the image)", hcLine)
		}
		if !hc[0].Attributes["json"] {
			t.Errorf("HEALTHCHECK CMD is in shell form; the exec (JSON) form needs no shell")
		}
		ep := find(final, "entrypoint")
		if len(ep) != 1 {
			t.Fatalf("got %d ENTRYPOINT instructions, want 1", len(ep))
		}
		if got := words(ep[0]); len(got) != 1 || filepath.Base(got[0]) != "sxp" || !ep[0].Attributes["json"] {
			t.Errorf("ENTRYPOINT %v, want [\"…/sxp\"] in exec form: one image for every subcommand", got)
		}
	})
}

func TestDockerignore(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	for _, want := range []string{".git", "var/"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %q: local state would go into the build context", want)
		}
	}
}
