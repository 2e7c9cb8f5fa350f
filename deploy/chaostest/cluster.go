package chaostest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a private PostgreSQL cluster on loopback, run as an
// unprivileged user when this process is root (initdb refuses root), the
// way deploy/lib/pg.sh does it.
type Cluster struct {
	Name string
	Dir  string
	Port int
	bin  string
	user string // run pg_ctl as this user ("" when not root)
}

// PGBinDir returns the newest installed PostgreSQL server binaries'
// directory, or "" when there is none.
func PGBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	return ""
}

func pgVersion(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// NewCluster runs initdb in dir.
func NewCluster(name, dir string, port int) (*Cluster, error) {
	c := &Cluster{Name: name, Dir: dir, Port: port, bin: PGBinDir()}
	if c.bin == "" {
		return nil, fmt.Errorf("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		c.user = os.Getenv("SXP_PG_USER")
		if c.user == "" {
			c.user = "sxp"
		}
		u, err := user.Lookup(c.user)
		if err != nil {
			if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", c.user).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("useradd %s: %v: %s", c.user, err, out)
			}
			if u, err = user.Lookup(c.user); err != nil {
				return nil, err
			}
		}
		uid, _ := strconv.Atoi(u.Uid)
		// Every parent must be traversable by the cluster's user.
		for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
				os.Chmod(d, fi.Mode().Perm()|0o711)
			}
		}
		if err := os.Chown(dir, uid, -1); err != nil {
			return nil, err
		}
	}
	if out, err := c.run("initdb", "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"); err != nil {
		return nil, fmt.Errorf("initdb %s: %v: %s", dir, err, out)
	}
	return c, nil
}

func (c *Cluster) run(prog string, args ...string) ([]byte, error) {
	bin := filepath.Join(c.bin, prog)
	var cmd *exec.Cmd
	if c.user != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.user, "--", bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	return cmd.CombinedOutput()
}

// Start starts the cluster and waits until it accepts connections.
func (c *Cluster) Start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on -c synchronous_commit=on", c.Port, c.Dir)
	out, err := c.run("pg_ctl", "-D", c.Dir, "-l", filepath.Join(c.Dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
		return fmt.Errorf("start %s: %v: %s\n%s", c.Name, err, out, tail(string(log), 2000))
	}
	return nil
}

// StopImmediate is `pg_ctl -m immediate stop`: no checkpoint, like a crash.
func (c *Cluster) StopImmediate() error {
	if out, err := c.run("pg_ctl", "-D", c.Dir, "-m", "immediate", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("stop %s: %v: %s", c.Name, err, out)
	}
	return nil
}

// Stop stops the cluster quickly; quiet when it is not running.
func (c *Cluster) Stop() {
	if _, err := os.Stat(filepath.Join(c.Dir, "postmaster.pid")); err != nil {
		return
	}
	c.run("pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "-t", "60", "stop")
}

// URL is the connection string of database db.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// CreateDatabase creates database db.
func (c *Cluster) CreateDatabase(ctx context.Context, db string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
	return err
}

// WaitUp waits until the cluster accepts a query (after a restart).
func (c *Cluster) WaitUp(ctx context.Context, limit time.Duration) error {
	var err error
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, c.URL("postgres")); err == nil {
			conn.Close(ctx)
			return nil
		}
	}
	return err
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
