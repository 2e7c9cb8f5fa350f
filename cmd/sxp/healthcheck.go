package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// healthcheckCommand probes a server's health endpoint. The container image
// has no curl or wget, so its HEALTHCHECK runs the binary itself.
func healthcheckCommand(stdout io.Writer) *command {
	return &command{
		name:    "healthcheck",
		summary: "probe a server's /healthz (or any URL); exit 0 when it answers 200",
		usage:   "sxp healthcheck [--timeout 3s] [URL]",
		help: `Send GET URL and exit 0 when the answer is HTTP 200, 1 otherwise. Used by the
container image's HEALTHCHECK (the image has no curl) and by deploy/run.
Without URL it probes SXP_HEALTHCHECK_URL, default http://127.0.0.1:8080/healthz.`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string) error {
			def := envString(fs, "url", "SXP_HEALTHCHECK_URL", "http://127.0.0.1:8080/healthz", "URL to probe")
			timeout := envDuration(fs, "timeout", "SXP_HEALTHCHECK_TIMEOUT", 3*time.Second, "give up after this long")
			quiet := fs.Bool("quiet", false, "print nothing on success")
			return func(ctx context.Context, args []string) error {
				url := *def
				switch len(args) {
				case 0:
				case 1:
					url = args[0]
				default:
					return usagef("at most one URL")
				}
				if *timeout <= 0 {
					return usagef("--timeout must be positive, got %s", *timeout)
				}
				ctx, cancel := context.WithTimeout(ctx, *timeout)
				defer cancel()
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					return usagef("bad URL %q: %v", url, err)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return fmt.Errorf("%s: %w", url, err)
				}
				defer resp.Body.Close()
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
				}
				if !*quiet {
					fmt.Fprintf(stdout, "%s: ok\n", url)
				}
				return nil
			}
		},
	}
}
