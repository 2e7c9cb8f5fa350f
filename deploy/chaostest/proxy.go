package chaostest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how a Proxy treats traffic.
type Mode int32

const (
	Pass       Mode = iota // forward both ways
	Delay                  // hold every chunk of the answer for Proxy.DelayBy (beyond the callers' timeouts)
	DropAnswer             // forward the request, swallow the answer, then close: the request arrived, the caller never hears
	Reset                  // reset every connection, open or new
)

func (m Mode) String() string {
	return [...]string{"pass", "delay", "drop_answer", "reset"}[m]
}

// Proxy is a small TCP proxy on loopback in front of one server: the
// other servers reach it only through here, so a fault set here breaks
// every link into that server.
type Proxy struct {
	Name     string
	Listen   string // host:port it listens on
	Upstream string // host:port of the server
	DelayBy  time.Duration

	ln    net.Listener
	mode  atomic.Int32
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// StartProxy listens on listen and forwards to upstream until Close.
func StartProxy(name, listen, upstream string, delayBy time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &Proxy{Name: name, Listen: ln.Addr().String(), Upstream: upstream, DelayBy: delayBy, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// SetMode changes how traffic is treated from now on; Reset also resets
// every open connection.
func (p *Proxy) SetMode(m Mode) {
	p.mode.Store(int32(m))
	if m == Reset {
		p.mu.Lock()
		for c := range p.conns {
			resetConn(c)
		}
		p.mu.Unlock()
	}
}

// Mode is the current mode.
func (p *Proxy) Mode() Mode { return Mode(p.mode.Load()) }

// Close stops listening and closes every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0) // close sends RST
	}
	c.Close()
}

func (p *Proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.Mode() == Reset {
			resetConn(c)
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.Upstream, 5*time.Second)
	if err != nil {
		resetConn(client)
		return
	}
	p.track(client, true)
	p.track(up, true)
	defer func() {
		p.track(client, false)
		p.track(up, false)
		client.Close()
		up.Close()
	}()
	done := make(chan struct{}, 2)
	go func() { // the request: forwarded unless resetting
		io.Copy(up, client)
		done <- struct{}{}
	}()
	go func() { // the answer: subject to the mode
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			if n > 0 {
				switch p.Mode() {
				case Delay:
					time.Sleep(p.DelayBy)
				case DropAnswer:
					// The server answered; the caller never hears it.
					resetConn(client)
					done <- struct{}{}
					return
				case Reset:
					resetConn(client)
					done <- struct{}{}
					return
				}
				if _, werr := client.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}()
	<-done
}
