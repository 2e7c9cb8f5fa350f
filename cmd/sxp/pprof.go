package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofFlag declares --pprof-listen (SXP_PPROF_LISTEN) and returns a
// function that, when it is set, serves net/http/pprof on that address
// until ctx ends. The profiles are on their own listener, never on the
// server's public address: bind it to loopback or an admin network.
func pprofFlag(fs *flag.FlagSet) func(ctx context.Context, logger *slog.Logger) error {
	addr := envString(fs, "pprof-listen", "SXP_PPROF_LISTEN", "",
		"admin-only address serving Go profiles (net/http/pprof under /debug/pprof/), e.g. 127.0.0.1:6060; empty: off")
	return func(ctx context.Context, logger *slog.Logger) error {
		if *addr == "" {
			return nil
		}
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return fmt.Errorf("--pprof-listen (SXP_PPROF_LISTEN): %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		go func() {
			<-ctx.Done()
			srv.Close()
		}()
		logger.Info("serving profiles", "address", ln.Addr().String())
		return nil
	}
}
