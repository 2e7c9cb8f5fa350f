// Command sxp is the one binary of SXP: the clearing house, the community
// server, migrations, admin commands and tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand. Run receives the arguments after the flags.
type command struct {
	name    string
	summary string
	usage   string // the line after "usage: sxp "
	help    string // longer description printed by --help
	flags   func(fs *flag.FlagSet) func(ctx context.Context, args []string) error
	subs    []*command // nested subcommands, e.g. "admin community add"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches args to a subcommand and returns the process exit code:
// 0 success, 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &command{name: "sxp", summary: "local currency servers and their intertrading circle", subs: commands(stdout, stderr)}
	return dispatch(ctx, root, []string{"sxp"}, args, stdout, stderr)
}

func dispatch(ctx context.Context, cmd *command, path []string, args []string, stdout, stderr io.Writer) int {
	if len(cmd.subs) > 0 {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			out := stdout
			code := 0
			if len(args) == 0 {
				out, code = stderr, 2
			}
			printGroupHelp(out, cmd, path)
			return code
		}
		for _, sub := range cmd.subs {
			if sub.name == args[0] {
				return dispatch(ctx, sub, append(path, sub.name), args[1:], stdout, stderr)
			}
		}
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", strings.Join(path, " "), args[0])
		printGroupHelp(stderr, cmd, path)
		return 2
	}
	fs := flag.NewFlagSet(strings.Join(path, " "), flag.ContinueOnError)
	fs.SetOutput(stderr)
	runFn := cmd.flags(fs)
	fs.Usage = func() {} // help is printed below, to stdout when asked for
	if err := fs.Parse(interleave(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printLeafHelp(stdout, cmd, fs)
			return 0
		}
		fmt.Fprintln(stderr)
		printLeafHelp(stderr, cmd, fs)
		return 2
	}
	if err := checkEnv(fs); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", strings.Join(path, " "), err)
		return 2
	}
	if err := runFn(ctx, fs.Args()); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			fmt.Fprintln(stderr, ee.msg)
			return ee.code
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "%s: %v\n\n", strings.Join(path, " "), err)
			printLeafHelp(stderr, cmd, fs)
			return 2
		}
		fmt.Fprintf(stderr, "%s: %v\n", strings.Join(path, " "), err)
		return 1
	}
	return 0
}

// interleave moves positional arguments after the flags, so that both
// "sxp admin community block ID --reason X" and "--reason X ID" work.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, positional...)
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func printGroupHelp(w io.Writer, cmd *command, path []string) {
	name := strings.Join(path, " ")
	if cmd.help != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(cmd.help))
	} else {
		fmt.Fprintf(w, "%s: %s\n\n", name, cmd.summary)
	}
	fmt.Fprintf(w, "usage: %s COMMAND [flags] [args]\n\ncommands:\n", name)
	for _, s := range cmd.subs {
		fmt.Fprintf(w, "  %-12s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's flags.\n", name)
}

func printLeafHelp(w io.Writer, cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n", cmd.usage)
	if cmd.help != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(cmd.help))
	} else {
		fmt.Fprintf(w, "%s\n\n", cmd.summary)
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "flags:")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
}
