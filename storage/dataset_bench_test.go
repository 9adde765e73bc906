package storage_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/export"
)

var (
	importRows  = flag.Int("import-rows", 100_000, "items per import in BenchmarkImport")
	importBase  = flag.Int("import-base", 1_000_000, "items already in the project for BenchmarkImport/into-full")
	exportItems = flag.Int("export-items", 100_000, "annotated items in BenchmarkExport's project")
)

// itemsFile writes n JSONL items with ids PREFIX-0 … as a reader that
// generates them on the fly, so that the file's size costs no memory.
func itemsFile(prefix string, n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 64<<10)
		for i := range n {
			fmt.Fprintf(w, `{"id":"%s-%d","data":{"review":"Generated review number %d: the kettle boils fast and the lid shuts with a click."}}`+"\n", prefix, i, i)
		}
		w.Flush()
		pw.Close()
	}()
	return pr
}

// peakHeap samples the heap in use until stop is called and returns the
// largest figure in MiB.
func peakHeap() (stop func() float64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		return float64(peak.Load()) / (1 << 20)
	}
}

// BenchmarkImport imports -import-rows generated items per op through the
// whole path (JSONL parsing, checks, hashing, dedupe lookups, batched
// writes, the final commit), into an empty project and into one already
// holding -import-base items; beside it, the raw baseline inserts the same
// rows, already built, in batched transactions of the same size through a
// prepared statement on a bare modernc connection with the same pragmas.
func BenchmarkImport(b *testing.B) {
	n := *importRows
	// raw inserts the rows into a bare table (a primary key and the
	// sequence); raw-schema into a table with Loupe's columns and indexes
	// (the queue, state, hash and id lookups), the storage cost of the
	// same rows without Loupe's reading, checks and bookkeeping.
	for _, bare := range []bool{true, false} {
		name := map[bool]string{true: "raw", false: "raw-schema"}[bare]
		b.Run(name, func(b *testing.B) {
			raw := rawBenchDB(b)
			ddl := []string{`CREATE TABLE items (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, seq INTEGER NOT NULL, external_id TEXT,
				data TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL, priority REAL NOT NULL DEFAULT 0, complete INTEGER NOT NULL DEFAULT 0,
				state TEXT NOT NULL DEFAULT 'pending', UNIQUE (project_id, seq)) STRICT`}
			if !bare {
				ddl = append(ddl,
					`CREATE UNIQUE INDEX items_external ON items (project_id, external_id) WHERE external_id IS NOT NULL`,
					`CREATE INDEX items_hash ON items (project_id, hash)`,
					`CREATE INDEX items_open ON items (project_id, complete, seq)`,
					`CREATE INDEX items_priority ON items (project_id, complete, priority, seq)`,
					`CREATE INDEX items_state ON items (project_id, state, seq)`)
			}
			for _, q := range ddl {
				if _, err := raw.Exec(q); err != nil {
					b.Fatal(err)
				}
			}
			seq := 0
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				for i := 0; i < n; i += 2000 {
					tx, err := raw.Begin()
					if err != nil {
						b.Fatal(err)
					}
					st, err := tx.Prepare(`INSERT INTO items (id, project_id, seq, external_id, data, hash, created_at, priority) VALUES (?, 'p', ?, ?, ?, ?, '2026-11-25T00:00:00.000000Z', ?)`)
					if err != nil {
						b.Fatal(err)
					}
					for j := i; j < min(i+2000, n); j++ {
						seq++
						data := `{"review":"Generated review number ` + strconv.Itoa(j) + `: the kettle boils fast and the lid shuts with a click."}`
						sum := sha256.Sum256([]byte(data))
						if _, err := st.Exec(fmt.Sprintf("0193%028x", seq), seq, "ext-"+strconv.Itoa(seq), data, hex.EncodeToString(sum[:]), float64(sum[0])/256); err != nil {
							b.Fatal(err)
						}
					}
					st.Close()
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
			}
		})
	}
	run := func(b *testing.B, base int) {
		f := newFixture(b, sentimentConfig, 0, 0)
		ctx := context.Background()
		if base > 0 {
			if err := f.db.ExecForTest(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
				INSERT INTO items (id, project_id, seq, external_id, data, hash, created_at, priority, state)
				SELECT 'base-' || i, ?, i, 'base-' || i, '{"review":"base item ' || i || '"}', printf('%064d', i), '2026-11-24T00:00:00.000000Z', (i * 7919 % 1000003) / 1000003.0, 'pending'
				FROM n`, base, f.project.ID); err != nil {
				b.Fatal(err)
			}
			if err := f.db.ExecForTest(ctx, `UPDATE projects SET item_count = ? WHERE id = ?`, base, f.project.ID); err != nil {
				b.Fatal(err)
			}
			// Copy the setup out of the WAL now, so that the import does
			// not pay for checkpointing it.
			if err := f.db.Checkpoint(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for i := range b.N {
			stop := peakHeap()
			start := time.Now()
			res, err := f.db.ImportItems(ctx, f.project, annotate.NewItemDecoder(itemsFile("op"+strconv.Itoa(i), n)), annotate.ImportOptions{})
			if err != nil || res.Added != n {
				b.Fatalf("import: %+v, %v", res, err)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
			b.ReportMetric(stop(), "peak-heap-MiB")
		}
	}
	b.Run("empty", func(b *testing.B) { run(b, 0) })
	b.Run("into-full", func(b *testing.B) { run(b, *importBase) })
}

func rawBenchDB(b *testing.B) *sql.DB {
	b.Helper()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "raw.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-262144)")
	if err != nil {
		b.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	b.Cleanup(func() { raw.Close() })
	return raw
}

// exportFixture is a project of n items, each annotated once, written
// straight into the tables.
func exportFixture(b *testing.B, n int) *fixture {
	b.Helper()
	f := newFixture(b, sentimentConfig, 0, 1)
	ctx := context.Background()
	stmts := []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
			INSERT INTO items (id, project_id, seq, external_id, data, hash, created_at, done, complete, state)
			SELECT 'item-' || i, ?2, i, 'ext-' || i, '{"review":"Generated review number ' || i || ': the kettle boils fast and the lid shuts with a click."}',
				printf('%064d', i), '2026-11-24T00:00:00.000000Z', 1, 1, 'annotated' FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
			INSERT INTO annotations (id, project_id, item_id, user_id, version, created_at, updated_at)
			SELECT 'ann-' || i, ?2, 'item-' || i, ?3, 1, '2026-11-24T01:00:00.000000Z', '2026-11-24T01:00:00.000000Z' FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
			INSERT INTO annotation_versions (annotation_id, version, values_json, config_version, created_at, author_id)
			SELECT 'ann-' || i, 1, CASE i % 3 WHEN 0 THEN '{"sentiment":"positive"}' WHEN 1 THEN '{"sentiment":"negative"}' ELSE '{"sentiment":"neutral"}' END,
				1, '2026-11-24T01:00:00.000000Z', ?3 FROM n`,
		`ANALYZE`,
	}
	for _, s := range stmts {
		if err := f.db.ExecForTest(ctx, s, n, f.project.ID, f.labelers[0].ID); err != nil {
			b.Fatal(err)
		}
	}
	return f
}

// firstByte records when the first byte was written.
type firstByte struct {
	start time.Time
	at    time.Duration
	n     int64
}

func (w *firstByte) Write(b []byte) (int, error) {
	if w.n == 0 && len(b) > 0 {
		w.at = time.Since(w.start)
	}
	w.n += int64(len(b))
	return len(b), nil
}

// BenchmarkExport exports a project of -export-items annotated items as
// jsonl (Loupe's full record) and as csv; beside it, the raw baseline
// runs the same join as a bare SELECT and JSON-encodes each row with
// encoding/json, on the same file.
func BenchmarkExport(b *testing.B) {
	n := *exportItems
	f := exportFixture(b, n)
	ctx := context.Background()
	b.Run("raw", func(b *testing.B) {
		path := f.db.Path()
		raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
		if err != nil {
			b.Fatal(err)
		}
		defer raw.Close()
		b.ResetTimer()
		for range b.N {
			stop := peakHeap()
			w := &firstByte{start: time.Now()}
			bw := bufio.NewWriterSize(w, 64<<10)
			enc := json.NewEncoder(bw)
			rows, err := raw.Query(`SELECT i.id, coalesce(i.external_id, ''), i.data, a.id, u.name, v.version, v.values_json, v.created_at
				FROM items i JOIN annotations a ON a.item_id = i.id JOIN annotation_versions v ON v.annotation_id = a.id AND v.version = a.version
				JOIN users u ON u.id = a.user_id WHERE i.project_id = ? ORDER BY i.seq`, f.project.ID)
			if err != nil {
				b.Fatal(err)
			}
			type row struct {
				ID, ExternalID string
				Data           json.RawMessage
				Annotation     string
				User           string
				Version        int
				Values         json.RawMessage
				At             string
			}
			count := 0
			for rows.Next() {
				var r row
				var data, values []byte
				if err := rows.Scan(&r.ID, &r.ExternalID, &data, &r.Annotation, &r.User, &r.Version, &values, &r.At); err != nil {
					b.Fatal(err)
				}
				r.Data, r.Values = data, values
				if err := enc.Encode(&r); err != nil {
					b.Fatal(err)
				}
				count++
			}
			rows.Close()
			bw.Flush()
			el := time.Since(w.start)
			if count != n {
				b.Fatalf("raw read %d rows", count)
			}
			b.ReportMetric(float64(n)/el.Seconds(), "rows/s")
			b.ReportMetric(float64(w.at.Microseconds())/1000, "first-byte-ms")
			b.ReportMetric(stop(), "peak-heap-MiB")
		}
	})
	for _, format := range []string{"jsonl", "csv"} {
		b.Run(format, func(b *testing.B) {
			for range b.N {
				stop := peakHeap()
				w := &firstByte{start: time.Now()}
				sink := export.NewStreamSink(w)
				m, err := f.db.Export(ctx, f.project, export.Spec{Format: format}, export.Target{Sink: sink, Progress: func(int) { sink.Flush() }})
				if err != nil {
					b.Fatal(err)
				}
				sink.Close()
				el := time.Since(w.start)
				if m.Items != n {
					b.Fatalf("exported %d items", m.Items)
				}
				b.ReportMetric(float64(n)/el.Seconds(), "rows/s")
				b.ReportMetric(float64(w.at.Microseconds())/1000, "first-byte-ms")
				b.ReportMetric(stop(), "peak-heap-MiB")
			}
		})
	}
}

// BenchmarkImportAnnotated imports -import-rows items that each carry
// one annotation (as a Label Studio or Loupe export does): the annotations
// are stored in the import's final transaction, each with its event.
func BenchmarkImportAnnotated(b *testing.B) {
	n := *importRows
	f := newFixture(b, sentimentConfig, 0, 0)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		pr, pw := io.Pipe()
		go func() {
			w := bufio.NewWriterSize(pw, 64<<10)
			for j := range n {
				fmt.Fprintf(w, `{"id":"a%d-%d","data":{"review":"Generated review %d"},"annotations":[{"user":"gen-%d","values":{"sentiment":"positive"}}]}`+"\n", i, j, j, j%20)
			}
			w.Flush()
			pw.Close()
		}()
		start := time.Now()
		res, err := f.db.ImportItems(ctx, f.project, annotate.NewItemDecoder(pr), annotate.ImportOptions{})
		if err != nil || res.Annotations != n {
			b.Fatalf("import: %+v, %v", res, err)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
	}
}

// BenchmarkStateCounts reads a project's counts per state, kept by the
// writes that move items, beside the GROUP BY over the items they
// replace, on a project of -import-rows items imported the ordinary way.
func BenchmarkStateCounts(b *testing.B) {
	f := newFixture(b, sentimentConfig, 0, 0)
	ctx := context.Background()
	if _, err := f.db.ImportItems(ctx, f.project, annotate.NewItemDecoder(itemsFile("sc", *importRows)), annotate.ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+f.db.Path()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	b.Run("kept", func(b *testing.B) {
		for range b.N {
			if c, err := f.db.StateCounts(ctx, f.project.ID); err != nil || c["pending"] != *importRows {
				b.Fatalf("counts %v, %v", c, err)
			}
		}
	})
	b.Run("group-by", func(b *testing.B) {
		for range b.N {
			rows, err := raw.Query(`SELECT state, count(*) FROM items WHERE project_id = ? GROUP BY state`, f.project.ID)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
			}
			rows.Close()
		}
	})
}
