package storage_test

// Benchmarks of the labeling loop (Next, then Submit) against a real SQLite
// file with the default options (WAL, synchronous=FULL), beside raw
// baselines run in the same process: a bare modernc database/sql INSERT,
// one per committed transaction, on a WAL FULL database, which is the
// least one durable write costs on this disk.
//
//	go test -run '^$' -bench . -benchtime 3s ./storage/
//
// Besides ns/op, each benchmark reports the latency of one operation as
// seen by its caller (p50-ms, p99-ms, max-ms) and, for the parallel ones,
// the throughput (ops/s); the NextSubmit ones also report the process's
// CPU time per operation (cpu-us/op), which varies less than wall time on
// a shared machine. For the parallel benchmarks ns/op is wall time
// divided by operations, the inverse of throughput, not a latency.
// docs/benchmarks.md records the figures and compares them.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/storage"
)

// benchLabelers is how many labelers the parallel benchmarks model: the
// brief's "50 concurrent labelers".
const benchLabelers = 50

// benchParallelism returns the b.SetParallelism factor that runs about n
// goroutines on this machine (RunParallel starts factor×GOMAXPROCS).
func benchParallelism(n int) int {
	return max(1, (n+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0))
}

// benchReviews returns n JSONL items shaped like the demo's product
// reviews (a couple of hundred bytes of text each).
func benchReviews(n int) string {
	var b strings.Builder
	b.Grow(n * 260)
	for i := range n {
		fmt.Fprintf(&b, `{"id": "bench-%d", "data": {"product": "kettle %d", "review": "Review %d. The kettle boils quickly and quietly, the lid opens with one hand and the handle stays cool. After a month of daily use it still looks new; I would buy it again.", "stars": %d}}`+"\n",
			i, i%97, i, 1+i%5)
	}
	return b.String()
}

// newBenchFixture opens a database with the default options (no test
// clock: leases and times are real) holding the sentiment project with
// items items and labelers labelers.
func newBenchFixture(b *testing.B, items, labelers int) *fixture {
	b.Helper()
	db := MustOpenDB(b, storage.Options{})
	f := &fixture{db: db, admin: mustUser(b, db, "admin", loupe.RoleAdmin)}
	f.project = mustProject(b, db, "sentiment", sentimentConfig, f.admin)
	if res := mustImport(b, db, f.project, benchReviews(items)); res.Added != items {
		b.Fatalf("imported %d items, want %d", res.Added, items)
	}
	ctx := context.Background()
	for i := range labelers {
		u := mustUser(b, db, "labeler"+strconv.Itoa(i), loupe.RoleMember)
		if err := db.SetMember(ctx, f.project.ID, u.Name, annotate.RoleLabeler); err != nil {
			b.Fatal(err)
		}
		f.labelers = append(f.labelers, u)
	}
	return f
}

// nextSubmit is one turn of a labeler: take the next item, label it.
func nextSubmit(ctx context.Context, f *fixture, u *loupe.User) (next, submit time.Duration, err error) {
	start := time.Now()
	task, err := f.db.Next(ctx, f.project, u.ID)
	if err != nil {
		return 0, 0, fmt.Errorf("Next: %w", err)
	}
	mid := time.Now()
	_, _, err = f.db.Submit(ctx, f.project, f.access(u), &annotate.Submission{
		ItemID:   task.Item.ID,
		Values:   map[string]json.RawMessage{"sentiment": json.RawMessage(`"positive"`)},
		ClientID: uuid.NewString(),
	})
	if err != nil {
		return 0, 0, fmt.Errorf("Submit: %w", err)
	}
	return mid.Sub(start), time.Since(mid), nil
}

// latencies collects per-operation durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

// quantile returns the nearest-rank q-quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// report adds the latency percentiles of d (named by prefix) to b's
// output, and the throughput when elapsed is given.
func report(b *testing.B, prefix string, d []time.Duration, elapsed time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(quantile(d, 0.50)), prefix+"p50-ms")
	b.ReportMetric(ms(quantile(d, 0.99)), prefix+"p99-ms")
	b.ReportMetric(ms(d[len(d)-1]), prefix+"max-ms")
	if elapsed > 0 {
		b.ReportMetric(float64(len(d))/elapsed.Seconds(), "ops/s")
	}
}

// cpuTime returns the CPU time (user and system) the process has used so
// far, or 0 where it cannot be read.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the process's CPU time per operation since start (in
// microseconds): on a shared machine it varies less than wall time, and it
// is what a second core cannot hide.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 && b.N > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(time.Microsecond)/float64(b.N), "cpu-us/op")
	}
}

// BenchmarkNextSubmit is one labeler working alone: each op takes the next
// item and submits an annotation of it, two durable commits.
func BenchmarkNextSubmit(b *testing.B) {
	f := newBenchFixture(b, b.N+10, 1)
	ctx := context.Background()
	u := f.labelers[0]
	pairs := make([]time.Duration, 0, b.N)
	nexts := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		next, submit, err := nextSubmit(ctx, f, u)
		if err != nil {
			b.Fatal(err)
		}
		nexts = append(nexts, next)
		pairs = append(pairs, next+submit)
	}
	b.StopTimer()
	reportCPU(b, cpu)
	report(b, "", pairs, 0)
	report(b, "next-", nexts, 0)
}

// BenchmarkNextSubmitParallel is about 50 labelers at once, each its own
// user, on a project with overlap 1 and enough items that the queue never
// runs dry. The group-commit writer puts the writes that arrive together
// in one transaction and one fsync.
func BenchmarkNextSubmitParallel(b *testing.B) {
	par := benchParallelism(benchLabelers)
	goroutines := par * runtime.GOMAXPROCS(0)
	f := newBenchFixture(b, b.N+goroutines+10, goroutines)
	ctx := context.Background()
	var who atomic.Int64
	var pairs, nexts latencies
	b.SetParallelism(par)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		u := f.labelers[who.Add(1)-1]
		var mine, myNexts []time.Duration
		for pb.Next() {
			next, submit, err := nextSubmit(ctx, f, u)
			if err != nil {
				b.Error(err)
				return
			}
			myNexts = append(myNexts, next)
			mine = append(mine, next+submit)
		}
		pairs.add(mine)
		nexts.add(myNexts)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	reportCPU(b, cpu)
	report(b, "", pairs.d, elapsed)
	report(b, "next-", nexts.d, 0)
	b.ReportMetric(float64(goroutines), "labelers")
}

// openRaw opens a bare modernc database/sql pool on a new file with the
// pragmas Loupe uses (WAL, synchronous=FULL) and one connection, as a
// single writer has, and creates a table shaped like annotation_versions.
func openRaw(b *testing.B) *sql.DB {
	b.Helper()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "raw.db")+"?"+q.Encode())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (id TEXT PRIMARY KEY, values_json TEXT NOT NULL, created_at TEXT NOT NULL) STRICT`); err != nil {
		b.Fatal(err)
	}
	return db
}

// rawInsert commits one row in its own transaction: one fsync of the WAL.
func rawInsert(db *sql.DB) (time.Duration, error) {
	start := time.Now()
	tx, err := db.Begin()
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(`INSERT INTO t (id, values_json, created_at) VALUES (?, ?, ?)`,
		uuid.NewString(), `{"sentiment":"positive"}`, start.UTC().Format(time.RFC3339Nano)); err != nil {
		tx.Rollback()
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// BenchmarkRawInsert is the raw cost of one durable write: a bare INSERT
// committed on its own on a WAL FULL database. A lone labeler's
// next + submit costs at least two of these.
func BenchmarkRawInsert(b *testing.B) {
	db := openRaw(b)
	d := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		took, err := rawInsert(db)
		if err != nil {
			b.Fatal(err)
		}
		d = append(d, took)
	}
	b.StopTimer()
	report(b, "", d, 0)
}

// BenchmarkRawInsertParallel is the same INSERT from about 50 goroutines
// through one connection: every insert is its own transaction and fsync,
// queued one after another (no group commit).
func BenchmarkRawInsertParallel(b *testing.B) {
	db := openRaw(b)
	par := benchParallelism(benchLabelers)
	var all latencies
	b.SetParallelism(par)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			took, err := rawInsert(db)
			if err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, took)
		}
		all.add(mine)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	report(b, "", all.d, elapsed)
}
