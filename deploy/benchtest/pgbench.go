package benchtest

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/deploy/chaostest"
)

//go:embed transfer.sql
var transferScript string

//go:embed schema.sql
var pgbenchSchema string

type pgbench struct {
	cl     *chaostest.Cluster
	script string
}

// setupPgbench creates database pgbench with cfg.Accounts accounts of
// limits ±10^12 and balance 0.
func setupPgbench(ctx context.Context, cfg *Config, cl *chaostest.Cluster) (*pgbench, error) {
	cfg.progress("pgbench: creating %d accounts", cfg.Accounts)
	if err := cl.CreateDatabase(ctx, "pgbench"); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, cl.URL("pgbench"))
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, pgbenchSchema); err != nil {
		return nil, fmt.Errorf("pgbench schema: %w", err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO bench_accounts (id, min_balance, max_balance)
		SELECT g, -1000000000000, 1000000000000 FROM generate_series(1, $1::int) g`, cfg.Accounts); err != nil {
		return nil, fmt.Errorf("pgbench accounts: %w", err)
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE bench_accounts`); err != nil {
		return nil, err
	}
	script := filepath.Join(cfg.Dir, "transfer.sql")
	if err := os.WriteFile(script, []byte(transferScript), 0o644); err != nil {
		return nil, err
	}
	return &pgbench{cl: cl, script: script}, nil
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// run runs pgbench for B1 (uniform) or B2 (hot) and reads the latencies
// from its per-transaction log.
func (p *pgbench) run(ctx context.Context, cfg *Config, name string) (Line, error) {
	hot := "0"
	if name == "B2" {
		hot = "1"
	}
	cfg.progress("%s: pgbench, %d clients, %s", name, cfg.Clients, cfg.Duration)
	logDir := filepath.Join(cfg.Dir, "pgbench-"+name)
	os.RemoveAll(logDir)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return Line{}, err
	}
	bin := filepath.Join(chaostest.PGBinDir(), "pgbench")
	cmd := exec.CommandContext(ctx, bin, "-n", "-h", "127.0.0.1", "-p", strconv.Itoa(p.cl.Port), "-U", "postgres",
		"-f", p.script, "-D", "accounts="+strconv.Itoa(cfg.Accounts), "-D", "hot="+hot, "-M", "prepared",
		"-c", strconv.Itoa(cfg.Clients), "-j", strconv.Itoa(min(cfg.Clients, 4)),
		"-T", strconv.Itoa(max(1, int(cfg.Duration.Round(time.Second).Seconds()))),
		"-l", "--log-prefix", filepath.Join(logDir, "log"), "pgbench")
	cmd.Dir = logDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Line{}, fmt.Errorf("pgbench %s: %v\n%s", name, err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return Line{}, fmt.Errorf("pgbench %s: no tps line in\n%s", name, out)
	}
	l := Line{Name: name}
	l.TPS, _ = strconv.ParseFloat(string(m[1]), 64)
	if fm := regexp.MustCompile(`number of failed transactions: ([0-9]+)`).FindSubmatch(out); fm != nil {
		l.Errors, _ = strconv.Atoi(string(fm[1]))
	}
	lat, err := readPgbenchLogs(logDir)
	if err != nil {
		return Line{}, err
	}
	l.P50, l.P99 = percentiles(lat)
	return l, nil
}

// readPgbenchLogs reads every transaction's latency (the third field, µs)
// from pgbench's -l files.
func readPgbenchLogs(dir string) ([]time.Duration, error) {
	files, err := filepath.Glob(filepath.Join(dir, "log.*"))
	if err != nil {
		return nil, err
	}
	var lat []time.Duration
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			us, err := strconv.ParseInt(fields[2], 10, 64)
			if err != nil {
				continue // "failed" or "skipped"
			}
			lat = append(lat, time.Duration(us)*time.Microsecond)
		}
		fh.Close()
	}
	return lat, nil
}

// check: the accounts sum to zero, none is outside its limits, and the
// history adds up to each balance (sampled on the hot account).
func (p *pgbench) check(ctx context.Context, res *Result) string {
	conn, err := pgx.Connect(ctx, p.cl.URL("pgbench"))
	if err != nil {
		res.Violations++
		return "CHECK pgbench: " + err.Error()
	}
	defer conn.Close(ctx)
	var sum, outside, hot, hotJournal, rows int64
	err = conn.QueryRow(ctx, `SELECT (SELECT coalesce(sum(balance), 0) FROM bench_accounts),
		(SELECT count(*) FROM bench_accounts WHERE balance NOT BETWEEN min_balance AND max_balance),
		(SELECT balance FROM bench_accounts WHERE id = 1),
		(SELECT coalesce(sum(CASE WHEN credit = 1 THEN amount ELSE -amount END), 0) FROM bench_history WHERE 1 IN (debit, credit)),
		(SELECT count(*) FROM bench_history)`).Scan(&sum, &outside, &hot, &hotJournal, &rows)
	if err != nil {
		res.Violations++
		return "CHECK pgbench: " + err.Error()
	}
	ok := sum == 0 && outside == 0 && hot == hotJournal
	if !ok {
		res.Violations++
	}
	return fmt.Sprintf("CHECK pgbench transfers=%d sum=%d outside_limits=%d hot_balance=%d hot_journal=%d %s", rows, sum, outside, hot, hotJournal, okWord(ok))
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "VIOLATION"
}
