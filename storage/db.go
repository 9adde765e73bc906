// Package storage keeps Loupe's data in SQLite (modernc.org/sqlite, pure
// Go). It owns the schema and its migrations and every SQL statement, and
// applies the domain packages' rules inside its transactions.
//
// All writes go through one writer goroutine on one connection: concurrent
// requests queue in Go instead of meeting SQLITE_BUSY, and requests that
// arrive together share one transaction and one fsync (group commit), each
// inside its own savepoint so that one failing request does not undo the
// others. Reads use a separate pool of read-only connections, which WAL
// mode lets run beside the writer.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/loupehq/loupe"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sync modes for Options.Sync.
const (
	SyncFull   = "FULL"   // an acknowledged write survives power loss (default)
	SyncNormal = "NORMAL" // faster; the last commits may be lost on power loss, never corrupted
)

// Options tune how a database is opened.
type Options struct {
	Sync     string           // SyncFull (default) or SyncNormal
	Readers  int              // size of the read pool; default max(4, 2×CPUs)
	MaxBatch int              // most writes committed together; default 256
	Now      func() time.Time // the clock; default time.Now
	Logger   *slog.Logger
	// Observe, if set, is told the size and duration (begin to commit) of
	// each batch of writes the writer commits, for metrics. It runs on the
	// writer goroutine, so it must be quick and must not write.
	Observe func(batch int, d time.Duration)
}

// DB is an open Loupe database.
type DB struct {
	path   string
	write  *sql.DB // one connection: the only writer
	read   *sql.DB // read-only pool
	now    func() time.Time
	log    *slog.Logger
	max    int
	obs    func(batch int, d time.Duration) // Options.Observe; nil: none
	writes chan *writeOp
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once

	conn  *sql.Conn            // the writer's connection, owned by the writer goroutine
	stmts map[string]*sql.Stmt // the writer's prepared statements
	reads sync.Map             // query → *sql.Stmt prepared on the read pool
	heads heads                // each chain's last event, for the writer

	configs configCache
}

// Tx is a write transaction, with the time captured once when it began.
type Tx struct {
	db    *DB
	ctx   context.Context
	now   time.Time
	actor *loupe.User          // who the events appended are by (nil: Loupe itself)
	heads map[string]chainHead // the chains' last events as this write appended them
}

type writeOp struct {
	ctx    context.Context
	fn     func(*Tx) error
	direct func(*sql.Conn) error
	err    chan error
}

// ErrClosed is returned for writes attempted after Close.
var ErrClosed = errors.New("storage: database is closed")

// Open opens (creating if needed) the database at path, applies pending
// migrations and starts the writer.
func Open(path string, opts Options) (*DB, error) {
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("open database: a file path is required (an in-memory database cannot be shared by a pool)")
	}
	if opts.Sync == "" {
		opts.Sync = SyncFull
	}
	if opts.Sync != SyncFull && opts.Sync != SyncNormal {
		return nil, fmt.Errorf("open database: sync mode %q is unknown; use FULL or NORMAL", opts.Sync)
	}
	if opts.Readers <= 0 {
		opts.Readers = max(4, 2*runtime.NumCPU())
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// The database holds session and token hashes: keep it private to its owner.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("open database: %w", err)
	}

	db := &DB{path: path, now: opts.Now, log: opts.Logger, max: opts.MaxBatch, obs: opts.Observe,
		writes: make(chan *writeOp), stop: make(chan struct{}), done: make(chan struct{})}
	var err error
	if db.write, err = sql.Open("sqlite", dsn(path, opts.Sync, false)); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)
	if err := db.checkWAL(); err != nil {
		db.write.Close()
		return nil, err
	}
	if err := db.migrate(context.Background()); err != nil {
		db.write.Close()
		return nil, err
	}
	if db.read, err = sql.Open("sqlite", dsn(path, opts.Sync, true)); err != nil {
		db.write.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.read.SetMaxOpenConns(opts.Readers)
	db.read.SetMaxIdleConns(opts.Readers)
	if db.conn, err = db.write.Conn(context.Background()); err != nil {
		db.read.Close()
		db.write.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.stmts = map[string]*sql.Stmt{}
	go db.writer()
	return db, nil
}

// dsn builds the connection string. Pragmas go in the DSN so that every
// pooled connection gets them, busy_timeout first so that it already applies
// while the others run.
func dsn(path, sync string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous("+sync+")")
	// Savepoints and sorts stay in memory instead of temporary files.
	q.Add("_pragma", "temp_store(MEMORY)")
	// SQLite's default page cache (2,000 pages, about 8 MiB) stops holding
	// a project's indexes past a few hundred thousand items, and every
	// insert then reads back the pages it lands on. The writer, which
	// touches every index, gets 256 MiB; each reader 16 MiB. The cache
	// grows only as pages are read.
	if readOnly {
		q.Add("_pragma", "cache_size(-16384)")
		q.Add("_pragma", "query_only(1)")
		q.Set("_txlock", "deferred")
	} else {
		q.Add("_pragma", "cache_size(-262144)")
		// A deferred transaction that later writes fails at once with
		// SQLITE_BUSY, bypassing busy_timeout; take the write lock up front.
		q.Set("_txlock", "immediate")
	}
	q.Set("_time_format", "sqlite")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

func (db *DB) checkWAL() error {
	var mode string
	if err := db.write.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("open database %s: %w", db.path, describeOpenError(err))
	}
	if mode != "wal" {
		return fmt.Errorf("open database %s: journal mode is %q, not wal (is the file on a network file system?)", db.path, mode)
	}
	return nil
}

func describeOpenError(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("%w (is the file or its directory read-only?)", err)
		case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("%w (the file is not a Loupe database, or is damaged)", err)
		}
	}
	return err
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close stops the writer after the writes in flight, checkpoints the WAL
// and closes both pools.
func (db *DB) Close() error {
	var err error
	db.once.Do(func() {
		close(db.stop)
		<-db.done
		db.reads.Range(func(_, st any) bool {
			st.(*sql.Stmt).Close()
			return true
		})
		if db.read != nil {
			err = errors.Join(err, db.read.Close())
		}
		if _, cerr := db.write.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); cerr != nil {
			db.log.Warn("checkpoint on close", "err", cerr)
		}
		err = errors.Join(err, db.write.Close())
	})
	return err
}

// update runs fn in a write transaction and returns once it is durably
// committed (or failed). Writes that arrive together share one commit; fn
// must do all its work through tx, and must not block on anything but the
// database.
func (db *DB) update(ctx context.Context, fn func(*Tx) error) error {
	return db.send(ctx, &writeOp{ctx: ctx, fn: fn, err: make(chan error, 1)})
}

// direct runs fn on the writer's connection outside any transaction,
// between batches (for example a WAL checkpoint, which cannot run inside
// one).
func (db *DB) direct(ctx context.Context, fn func(*sql.Conn) error) error {
	return db.send(ctx, &writeOp{ctx: ctx, direct: fn, err: make(chan error, 1)})
}

func (db *DB) send(ctx context.Context, op *writeOp) error {
	select {
	case db.writes <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.stop:
		return ErrClosed
	}
	// Wait for the outcome even if ctx ends: the write may already be in the
	// batch, and the caller must not report failure for a committed write.
	return <-op.err
}

// writer owns the write connection for the life of the DB: it takes the
// writes waiting, commits them together, and keeps every statement it has
// run prepared, so that the hot path does not parse SQL again.
func (db *DB) writer() {
	defer close(db.done)
	defer func() {
		for _, st := range db.stmts {
			st.Close()
		}
		db.conn.Close()
	}()
	for {
		var batch []*writeOp
		select {
		case op := <-db.writes:
			batch = append(batch, op)
		case <-db.stop:
			return
		}
	drain:
		for len(batch) < db.max && batch[len(batch)-1].direct == nil {
			select {
			case op := <-db.writes:
				batch = append(batch, op)
			default:
				break drain
			}
		}
		if last := batch[len(batch)-1]; last.direct != nil {
			batch = batch[:len(batch)-1]
			if len(batch) > 0 {
				db.commit(batch)
			}
			last.err <- db.runDirect(last)
			continue
		}
		db.commit(batch)
	}
}

func (db *DB) runDirect(op *writeOp) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in direct write: %v", r)
		}
	}()
	return op.direct(db.conn)
}

// stmt returns the writer's prepared statement for query, preparing it on
// first use. Only the writer goroutine calls it.
func (db *DB) stmt(query string) (*sql.Stmt, error) {
	if st, ok := db.stmts[query]; ok {
		return st, nil
	}
	st, err := db.conn.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	db.stmts[query] = st
	return st, nil
}

// execW runs a statement on the writer's connection.
func (db *DB) execW(query string) error {
	st, err := db.stmt(query)
	if err == nil {
		_, err = st.ExecContext(context.Background())
	}
	return err
}

// commit runs a batch of writes in one transaction, each in a savepoint.
// The chains' last events a write appended join the writer's cache only
// once its savepoint is released, and become the committed heads only once
// the transaction commits; a transaction that fails forgets them all.
func (db *DB) commit(batch []*writeOp) {
	if db.obs != nil {
		start := time.Now()
		defer func() { db.obs(len(batch), time.Since(start)) }()
	}
	errs := make([]error, len(batch))
	finish := func() {
		for i, op := range batch {
			op.err <- errs[i]
		}
	}
	fail := func(err error) {
		db.heads.reset()
		db.execW("ROLLBACK") // fails harmlessly when SQLite already rolled back
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		finish()
	}
	if err := db.execW("BEGIN IMMEDIATE"); err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	db.heads.begin()
	ok := 0
	for i, op := range batch {
		if err := op.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if err := db.execW("SAVEPOINT op"); err != nil {
			fail(fmt.Errorf("savepoint: %w", err))
			return
		}
		tx := &Tx{db: db, ctx: context.Background(), now: db.now().UTC(), actor: loupe.ActorFrom(op.ctx)}
		errs[i] = run(op.fn, tx)
		var err error
		if errs[i] != nil {
			err = db.execW("ROLLBACK TO op")
		} else {
			ok++
		}
		if err == nil {
			err = db.execW("RELEASE op")
		}
		if err != nil {
			// The transaction is gone (for example SQLITE_FULL rolled it
			// back): nothing of this batch is committed.
			for j := range errs[:i+1] {
				errs[j] = nil
			}
			fail(fmt.Errorf("write: %w", errors.Join(errs[i], err)))
			return
		}
		if errs[i] == nil {
			db.heads.release(tx.heads)
		}
	}
	if ok == 0 {
		db.heads.rollback()
		db.execW("ROLLBACK")
		finish()
		return
	}
	if err := db.execW("COMMIT"); err != nil {
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	db.heads.commit()
	finish()
}

// run calls fn, turning a panic into an error so that one bad request
// cannot take the writer down.
func run(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			buf := make([]byte, 4096)
			buf = buf[:runtime.Stack(buf, false)]
			err = fmt.Errorf("panic in write: %v\n%s", r, buf)
		}
	}()
	return fn(tx)
}

func (tx *Tx) exec(query string, args ...any) (sql.Result, error) {
	st, err := tx.db.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(tx.ctx, args...)
}

func (tx *Tx) query(query string, args ...any) (*sql.Rows, error) {
	st, err := tx.db.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(tx.ctx, args...)
}

// row is a *sql.Row or the error of preparing its statement.
type row struct {
	*sql.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.Row.Scan(dest...)
}

func (tx *Tx) queryRow(query string, args ...any) row {
	st, err := tx.db.stmt(query)
	if err != nil {
		return row{err: err}
	}
	return row{Row: st.QueryRowContext(tx.ctx, args...)}
}

// changes returns the rows the connection has changed in all, to count
// what an INSERT ... DO NOTHING really inserted.
func (tx *Tx) changes() (int64, error) {
	var n int64
	err := tx.queryRow(`SELECT total_changes()`).Scan(&n)
	return n, err
}

// prepare returns the writer's prepared statement for query. It stays
// prepared for later transactions: callers must not close it.
func (tx *Tx) prepare(query string) (*sql.Stmt, error) { return tx.db.stmt(query) }

// Time is stored as fixed-width UTC text, so that it sorts and compares as
// text and stays readable in the sqlite3 shell.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

// isConstraint reports whether err is a SQLite constraint violation of the
// given extended code (for example SQLITE_CONSTRAINT_UNIQUE).
func isConstraint(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == code
}

func isUnique(err error) bool {
	return isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) || isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func notFound(format string, args ...any) error {
	return loupe.Errorf(loupe.ENOTFOUND, format, args...)
}

// Checkpoint copies the WAL back into the database file. Long readers can
// keep automatic checkpoints from finishing; the server calls this
// periodically so that the WAL stays bounded.
func (db *DB) Checkpoint(ctx context.Context) error {
	err := db.direct(ctx, func(c *sql.Conn) error {
		var busy, logFrames, done int
		return c.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &done)
	})
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// readStmt returns a statement prepared on the read pool, preparing it on
// first use; each pooled connection prepares it once.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := db.reads.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.read.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.reads.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// queryRow runs a one-row query on the read pool through a prepared
// statement.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) row {
	st, err := db.readStmt(ctx, query)
	if err != nil {
		return row{err: err}
	}
	return row{Row: st.QueryRowContext(ctx, args...)}
}
