package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
)

// TestPprofListen: --pprof-listen serves the profiles on its own address
// until the context ends; without it nothing listens.
func TestPprofListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	off := flag.NewFlagSet("off", flag.ContinueOnError)
	startOff := pprofFlag(off)
	if err := off.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := startOff(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline"); err == nil {
		resp.Body.Close()
		t.Fatalf("without --pprof-listen something answered on %s: %d", addr, resp.StatusCode)
	}

	on := flag.NewFlagSet("on", flag.ContinueOnError)
	startOn := pprofFlag(on)
	if err := on.Parse([]string{"--pprof-listen", addr}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := startOn(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/cmdline", addr))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /debug/pprof/cmdline: %d, want 200", resp.StatusCode)
	}
}
