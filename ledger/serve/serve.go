// Package serve runs an HTTP server and the background work that belongs
// to it until a context ends, then shuts both down in order: the server
// stops accepting and lets requests in flight finish (up to a grace
// period), and the background work, whose context ends with it, has
// returned before Run does.
//
// Both servers (server.Server and clearing/app.App) serve through it. It
// sits under ledger/, the base layer of domain-free building blocks that
// every package may import (see package ledger).
package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Run serves srv on ln and runs background(ctx) beside it until ctx ends
// or the server fails. It returns srv.Serve's error when the server
// failed, Shutdown's when the grace period ran out, and nil after a clean
// stop.
func Run(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, background func(ctx context.Context)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if background != nil {
			background(ctx)
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		cancel()
		<-done
		return err
	case <-ctx.Done():
	}
	sctx, stop := context.WithTimeout(context.Background(), grace)
	defer stop()
	err := srv.Shutdown(sctx)
	<-done
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
