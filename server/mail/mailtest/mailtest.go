// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) on
// loopback for tests: it accepts AUTH PLAIN with one user and keeps every
// message, which a test reads, decoded, and whose links it follows.
package mailtest

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The user and password the server accepts.
const (
	User     = "sxp"
	Password = "mail test password"
)

// Message is one message received, decoded.
type Message struct {
	From    string // envelope sender (MAIL FROM)
	To      []string
	Header  mail.Header
	Subject string // decoded
	Body    string // decoded text (quoted-printable undone)
	Raw     []byte
}

// Server is a running SMTP server.
type Server struct {
	Addr string
	srv  *smtp.Server

	mu       sync.Mutex
	messages []Message
	arrived  chan struct{}
	fail     int // refuse this many next messages with 451
}

// Start starts a server on 127.0.0.1; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), arrived: make(chan struct{}, 1000)}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "mail.test"
	s.srv.AllowInsecureAuth = true // loopback, plain text: the client allows AUTH to 127.0.0.1
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	s.srv.MaxMessageBytes = 1 << 20
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// URL is the server's SXP_SMTP_URL.
func (s *Server) URL() string {
	return fmt.Sprintf("smtp://%s:%s@%s", User, strings.ReplaceAll(Password, " ", "%20"), s.Addr)
}

// FailNext makes the server refuse the next n messages (451, try later).
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.fail = n
	s.mu.Unlock()
}

// Messages returns every message received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait returns the first message received to to, after the first skip
// such messages, waiting up to timeout for it.
func (s *Server) Wait(t testing.TB, to string, skip int, timeout time.Duration) Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := 0
		for _, m := range s.Messages() {
			if len(m.To) == 1 && strings.EqualFold(m.To[0], to) {
				if n == skip {
					return m
				}
				n++
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message %d to %s within %s (got %d in all)", skip+1, to, timeout, len(s.Messages()))
		}
		select {
		case <-s.arrived:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Count is how many messages went to to.
func (s *Server) Count(to string) int {
	n := 0
	for _, m := range s.Messages() {
		if len(m.To) == 1 && strings.EqualFold(m.To[0], to) {
			n++
		}
	}
	return n
}

var linkRE = regexp.MustCompile(`https?://[^\s]+`)

// Link returns the first link in the body whose path contains path.
func (m Message) Link(t testing.TB, path string) string {
	t.Helper()
	for _, l := range linkRE.FindAllString(m.Body, -1) {
		if strings.Contains(l, path) {
			return l
		}
	}
	t.Fatalf("message %q has no link to %s:\n%s", m.Subject, path, m.Body)
	return ""
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != User || password != Password {
			return errors.New("bad user or password")
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if !x.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.fail > 0 {
		x.s.fail--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	m := Message{From: x.from, To: append([]string(nil), x.to...), Raw: raw}
	if pm, err := mail.ReadMessage(strings.NewReader(string(raw))); err == nil {
		m.Header = pm.Header
		m.Subject, _ = new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
		var body []byte
		if strings.EqualFold(pm.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body, _ = io.ReadAll(quotedprintable.NewReader(pm.Body))
		} else {
			body, _ = io.ReadAll(pm.Body)
		}
		m.Body = strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	x.s.messages = append(x.s.messages, m)
	select {
	case x.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }
