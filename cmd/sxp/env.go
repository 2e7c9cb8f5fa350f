package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"
)

// Every server setting is both a flag and an environment variable. The
// environment supplies the default; a flag given on the command line wins.
// The variable's name is shown in --help next to the flag.

func envString(fs *flag.FlagSet, name, env, def, usage string) *string {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	return fs.String(name, def, fmt.Sprintf("%s (env %s)", usage, env))
}

// envSecret is envString for a secret (a key, a token): --help never shows
// its value, only whether the environment sets it.
func envSecret(fs *flag.FlagSet, name, env, usage string) *string {
	v := &hiddenString{show: func(string) string { return "" }}
	if s := os.Getenv(env); s != "" {
		v.s = s
		fs.Var(v, name, fmt.Sprintf("%s (env %s, set)", usage, env))
	} else {
		fs.Var(v, name, fmt.Sprintf("%s (env %s)", usage, env))
	}
	return &v.s
}

// envDatabase is envString for a database URL: --help shows the default
// with its password replaced by xxxxx.
func envDatabase(fs *flag.FlagSet, name, env, usage string) *string {
	v := &hiddenString{show: redactURL}
	v.s = os.Getenv(env)
	fs.Var(v, name, fmt.Sprintf("%s (env %s)", usage, env))
	return &v.s
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if s == "" {
			return ""
		}
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// hiddenString is a string flag whose value --help shows through show.
type hiddenString struct {
	s    string
	show func(string) string
}

func (v *hiddenString) String() string {
	if v == nil || v.show == nil {
		return ""
	}
	return v.show(v.s)
}

func (v *hiddenString) Set(s string) error { v.s = s; return nil }

func envInt64(fs *flag.FlagSet, name, env string, def int64, usage string) *int64 {
	p := new(int64)
	*p = def
	fs.Var(&envValue[int64]{p: p, parse: func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }, env: env, fs: fs, name: name},
		name, fmt.Sprintf("%s (env %s)", usage, env))
	return p
}

func envDuration(fs *flag.FlagSet, name, env string, def time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	*p = def
	fs.Var(&envValue[time.Duration]{p: p, parse: time.ParseDuration, env: env, fs: fs, name: name},
		name, fmt.Sprintf("%s (env %s)", usage, env))
	return p
}

func envBool(fs *flag.FlagSet, name, env string, def bool, usage string) *bool {
	if v, ok := os.LookupEnv(env); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		}
	}
	return fs.Bool(name, def, fmt.Sprintf("%s (env %s)", usage, env))
}

// envValue is a flag.Value whose default comes from an environment variable.
// A malformed environment value is reported when the flags are checked by
// envErrors, naming the variable.
type envValue[T any] struct {
	p     *T
	parse func(string) (T, error)
	env   string
	fs    *flag.FlagSet
	name  string
	set   bool
}

func (v *envValue[T]) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return fmt.Sprint(*v.p)
}

func (v *envValue[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return fmt.Errorf("bad value %q", s)
	}
	*v.p = x
	v.set = true
	return nil
}

// checkEnv applies the environment variables of every envValue flag not set
// on the command line and reports the first malformed one by name.
func checkEnv(fs *flag.FlagSet) error {
	var firstErr error
	fs.VisitAll(func(f *flag.Flag) {
		if firstErr != nil {
			return
		}
		type envFlag interface{ applyEnv() error }
		if ef, ok := f.Value.(envFlag); ok {
			firstErr = ef.applyEnv()
		}
	})
	return firstErr
}

func (v *envValue[T]) applyEnv() error {
	if v.set {
		return nil
	}
	s, ok := os.LookupEnv(v.env)
	if !ok {
		return nil
	}
	x, err := v.parse(s)
	if err != nil {
		return fmt.Errorf("setting %s (--%s): bad value %q", v.env, v.name, s)
	}
	*v.p = x
	return nil
}
