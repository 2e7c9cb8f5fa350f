package clearing

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sxp-network/sxp/clearing/cxp"
)

// The record is the definitive backup of every written intertrade
// (seed: "keep a definitive backup record of each transaction"). Rows of
// clearing_records are append-only (a trigger refuses UPDATE and DELETE).
// ExportRecords writes them as JSON lines, each chained to the one before
// by a SHA-256 hash, so a copy can be checked with VerifyRecords on its own
// or against the database.

// Record is one written intertrade as the record keeps it.
type Record struct {
	IntertradeID   int64  `json:"intertrade_id"`
	TempID         string `json:"temp_id"`
	PayerCommunity string `json:"payer_community"`
	PayeeCommunity string `json:"payee_community"`
	Payer          string `json:"payer"`
	Payee          string `json:"payee"`
	Quantity       string `json:"quantity"` // base units, a decimal
	PayerTicks     string `json:"payer_ticks"`
	PayeeTicks     string `json:"payee_ticks"`
	Description    string `json:"description"`
	TransferID     int64  `json:"transfer_id"`
	CreatedAt      string `json:"created_at"`
	PostedAt       string `json:"posted_at"`
}

// RecordLine is one line of an export.
type RecordLine struct {
	Seq    int64           `json:"seq"`
	Record json.RawMessage `json:"record"`
	Prev   string          `json:"prev"`
	Hash   string          `json:"hash"`
}

// GenesisHash is the prev of the first line.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

func appendRecord(ctx context.Context, q querier, t Intertrade, divisions int, now time.Time) error {
	r := Record{IntertradeID: t.ID, TempID: t.TempID, PayerCommunity: t.PayerCommunity, PayeeCommunity: t.PayeeCommunity,
		Payer: t.Payer, Payee: t.Payee, Quantity: string(cxp.FromMinor(t.Quantity, divisions)),
		PayerTicks: t.PayerTicks, PayeeTicks: t.PayeeTicks, Description: t.Description, TransferID: t.TransferID,
		CreatedAt: t.CreatedAt.UTC().Format(time.RFC3339Nano), PostedAt: now.UTC().Format(time.RFC3339Nano)}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, `INSERT INTO clearing_records (intertrade_id, record, created_at) VALUES ($1, $2, $3)`, t.ID, b, now); err != nil {
		return fmt.Errorf("clearing: record: %w", err)
	}
	return nil
}

// chainHash is sha256(prev || compact) in hex; compact is the record as
// compact JSON.
func chainHash(prev string, compact []byte) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write(compact)
	return hex.EncodeToString(h.Sum(nil))
}

// ExportRecords writes every record, oldest first, as hash-chained JSON
// lines and returns how many it wrote and the last hash.
func (h *House) ExportRecords(ctx context.Context, w io.Writer) (int64, string, error) {
	rows, err := h.pool.Query(ctx, `SELECT seq, record::text FROM clearing_records ORDER BY seq`)
	if err != nil {
		return 0, "", fmt.Errorf("clearing: export: %w", err)
	}
	defer rows.Close()
	bw := bufio.NewWriter(w)
	prev := GenesisHash
	var n int64
	for rows.Next() {
		var seq int64
		var rec string
		if err := rows.Scan(&seq, &rec); err != nil {
			return n, "", fmt.Errorf("clearing: export: %w", err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, []byte(rec)); err != nil {
			return n, "", err
		}
		hash := chainHash(prev, c.Bytes())
		line, err := json.Marshal(RecordLine{Seq: seq, Record: c.Bytes(), Prev: prev, Hash: hash})
		if err != nil {
			return n, "", err
		}
		bw.Write(line)
		bw.WriteByte('\n')
		prev = hash
		n++
	}
	if err := rows.Err(); err != nil {
		return n, "", fmt.Errorf("clearing: export: %w", err)
	}
	return n, prev, bw.Flush()
}

// VerifyRecords checks an export: every line's prev is the hash of the line
// before and its hash is right, and sequence numbers increase. It returns
// the lines' records by seq, how many lines it read and the last hash.
func VerifyRecords(r io.Reader) (map[int64][]byte, int64, string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	prev := GenesisHash
	var lastSeq, n int64
	recs := map[int64][]byte{}
	for sc.Scan() {
		n++
		var l RecordLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, n, "", fmt.Errorf("line %d: not a record line: %v", n, err)
		}
		if l.Seq <= lastSeq {
			return nil, n, "", fmt.Errorf("line %d: seq %d does not increase (after %d)", n, l.Seq, lastSeq)
		}
		if l.Prev != prev {
			return nil, n, "", fmt.Errorf("line %d (seq %d): prev %s, want %s: the chain is broken", n, l.Seq, l.Prev, prev)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, l.Record); err != nil {
			return nil, n, "", fmt.Errorf("line %d: %v", n, err)
		}
		want := chainHash(prev, c.Bytes())
		if l.Hash != want {
			return nil, n, "", fmt.Errorf("line %d (seq %d): hash %s, want %s: the record was altered", n, l.Seq, l.Hash, want)
		}
		recs[l.Seq] = c.Bytes()
		prev, lastSeq = l.Hash, l.Seq
	}
	if err := sc.Err(); err != nil {
		return nil, n, "", err
	}
	return recs, n, prev, nil
}

// CompareRecords checks an export's records against the database: each
// exported record must be in the database unchanged, and the database may
// hold more (written after the export) but none missing in between.
func (h *House) CompareRecords(ctx context.Context, recs map[int64][]byte) error {
	rows, err := h.pool.Query(ctx, `SELECT seq, record::text FROM clearing_records ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("clearing: compare: %w", err)
	}
	type row struct {
		seq int64
		rec string
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.seq, &x.rec)
		return x, err
	})
	if err != nil {
		return fmt.Errorf("clearing: compare: %w", err)
	}
	db := map[int64][]byte{}
	for _, x := range list {
		var c bytes.Buffer
		json.Compact(&c, []byte(x.rec))
		db[x.seq] = c.Bytes()
	}
	for seq, rec := range recs {
		got, ok := db[seq]
		if !ok {
			return fmt.Errorf("record %d is in the export but not in the database", seq)
		}
		if !bytes.Equal(got, rec) {
			return fmt.Errorf("record %d differs between the export and the database", seq)
		}
	}
	return nil
}
