package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/export"
)

// Export jobs run exports in the background, for the export page and the
// API: the export is written into a folder of its own under
// Config.ExportDir (a DirSink: files appear under their names only when
// complete), with its manifest.json, and is then downloaded as its one
// file or as a zip of the folder.
//
// Lifetime. Jobs are kept in this process's memory. A finished job (done
// or failed) and its folder are removed 24 hours after it finished (or
// sooner when the project has maxKeptExports newer finished jobs), and
// every job's folder is removed when the server closes: a restarted
// server knows no jobs, so their files could not be downloaded anyway.
// Folders left by a process that died are removed once they are more
// than 24 hours old. A snapshot outlives its job: it is recorded in the
// database and can be exported again, byte for byte, at any time.
//
// Several processes. Jobs in memory are this process's alone: behind a
// load balancer, a status or download request that reaches another
// process would not find the job. Several loupe processes would need the
// jobs in the database (a table of id, project, spec, status, progress,
// manifest) and their files on storage every process reaches (or routing
// that sends a project's export requests to one process).
//
// Concurrency. At most maxRunningExports jobs run at once per server;
// others wait, in the order they were started. An export reads in one
// read transaction of the reader pool, so labelers' writes go on; a
// snapshot pins what it saw through the single writer in small batches,
// between labelers' writes.
const (
	maxRunningExports = 2
	maxWaitingExports = 32
	maxKeptExports    = 50 // finished jobs kept per project: older ones go first
	exportJobTTL      = 24 * time.Hour
)

// Export job states.
const (
	jobQueued  = "queued"
	jobRunning = "running"
	jobDone    = "done"
	jobFailed  = "failed"
)

// exportWork runs a job's export into sink, calling progress with the
// items read so far.
type exportWork func(ctx context.Context, sink export.Sink, progress func(items int)) (*export.Manifest, error)

// exportJob is one export in the background.
type exportJob struct {
	ID        string
	ProjectID string
	Slug      string
	Format    *export.Format
	Spec      export.Spec
	Snapshot  string // the snapshot the job records, if any
	By        *loupe.User
	CreatedAt time.Time
	seq       int64 // the order jobs were started in

	work exportWork
	// after runs once the files are complete (recording the export in
	// the project's history); its failure does not fail the job.
	after func(ctx context.Context, m *export.Manifest)
	read  atomic.Int64

	mu       sync.Mutex
	status   string
	started  time.Time
	finished time.Time
	manifest *export.Manifest
	files    []export.File // the folder's files in zip order: as created, manifest.json last
	err      string
}

// jobState is a consistent copy of a job's changing fields.
type jobState struct {
	Status    string
	ItemsRead int64
	Started   time.Time
	Finished  time.Time
	Manifest  *export.Manifest
	Files     []export.File
	Error     string
}

func (j *exportJob) state() jobState {
	j.mu.Lock()
	defer j.mu.Unlock()
	return jobState{Status: j.status, ItemsRead: j.read.Load(), Started: j.started, Finished: j.finished,
		Manifest: j.manifest, Files: j.files, Error: j.err}
}

// single reports whether the job's download is its one data file, served
// as it is; otherwise it is a zip of the folder. A snapshot is always a
// zip, with its manifest, the same bytes as exporting it again.
func (j *exportJob) single() bool {
	return j.Format.Single && j.Spec.Split == nil && j.Snapshot == ""
}

// exportJobs runs and keeps the server's export jobs.
type exportJobs struct {
	dir        string
	tempParent string
	tempDir    bool // dir was made for this server: Close removes it whole
	now        func() time.Time
	log        *slog.Logger
	ctx        context.Context // the jobs' parent: done when the server closes
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	mu        sync.Mutex
	jobs      map[string]*exportJob
	waiting   []*exportJob
	running   int
	started   int64
	closed    bool
	lastSweep time.Time // of the folder, in real time
}

// newExportJobs keeps jobs' files in dir, or, when dir is "", in a
// temporary folder made in tempParent ("" for the system's) when the
// first job starts.
func newExportJobs(dir, tempParent string, now func() time.Time, log *slog.Logger) (*exportJobs, error) {
	m := &exportJobs{dir: dir, tempParent: tempParent, now: now, log: log, jobs: map[string]*exportJob{}}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("export jobs: %w", err)
		}
		m.sweepFolder()
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// ensureDir makes the temporary jobs folder on first use. m.mu is held.
func (m *exportJobs) ensureDir() error {
	if m.dir != "" {
		return nil
	}
	d, err := os.MkdirTemp(m.tempParent, "loupe-exports-")
	if err != nil {
		return fmt.Errorf("export jobs: %w", err)
	}
	m.dir, m.tempDir = d, true
	return nil
}

// newJob returns a job of the project, not started yet.
func newJob(projectID, slug string, f *export.Format, spec export.Spec, snapshot string, by *loupe.User, now time.Time, work exportWork) *exportJob {
	return &exportJob{ID: uuid.NewString(), ProjectID: projectID, Slug: slug, Format: f, Spec: spec, Snapshot: snapshot,
		By: by, CreatedAt: now, work: work, status: jobQueued}
}

// start queues a job: it runs at once when fewer than maxRunningExports
// run, else when its turn comes. It returns ERATELIMIT when too many jobs
// wait already, and ECONFLICT once the server is closing.
func (m *exportJobs) start(j *exportJob) error {
	m.sweep()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return loupe.Errorf(loupe.ECONFLICT, "the server is shutting down; start the export again in a moment")
	case len(m.waiting) >= maxWaitingExports:
		return loupe.Errorf(loupe.ERATELIMIT, "%d exports are waiting already; start this one when some are done", len(m.waiting))
	}
	if err := m.ensureDir(); err != nil {
		return err
	}
	m.dropOldest(j.ProjectID)
	m.started++
	j.seq = m.started
	m.jobs[j.ID] = j
	if m.running < maxRunningExports {
		m.launch(j)
	} else {
		m.waiting = append(m.waiting, j)
	}
	return nil
}

// counts returns how many of the jobs kept are in each state, for
// metrics; every state is present.
func (m *exportJobs) counts() map[string]int {
	out := map[string]int{jobQueued: 0, jobRunning: 0, jobDone: 0, jobFailed: 0}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, j := range m.jobs {
		out[j.state().Status]++
	}
	return out
}

// dropOldest forgets the project's oldest finished jobs, and removes
// their folders, so that it keeps fewer than maxKeptExports. m.mu is held.
func (m *exportJobs) dropOldest(projectID string) {
	var finished []*exportJob
	for _, j := range m.jobs {
		if st := j.state().Status; j.ProjectID == projectID && (st == jobDone || st == jobFailed) {
			finished = append(finished, j)
		}
	}
	if len(finished) < maxKeptExports {
		return
	}
	sort.Slice(finished, func(a, b int) bool { return finished[a].seq < finished[b].seq })
	for _, j := range finished[:len(finished)-maxKeptExports+1] {
		delete(m.jobs, j.ID)
		os.RemoveAll(filepath.Join(m.dir, j.ID))
	}
}

// launch runs a job in its own goroutine, on a context of its own: the
// request that started it may end long before. m.mu is held.
func (m *exportJobs) launch(j *exportJob) {
	m.running++
	m.wg.Add(1)
	j.mu.Lock()
	j.status, j.started = jobRunning, m.now()
	j.mu.Unlock()
	ctx, cancel := context.WithCancel(loupe.WithActor(m.ctx, j.By))
	go func() {
		defer m.wg.Done()
		defer cancel()
		m.execute(ctx, j)
		m.mu.Lock()
		defer m.mu.Unlock()
		m.running--
		if len(m.waiting) > 0 && !m.closed {
			next := m.waiting[0]
			m.waiting = m.waiting[1:]
			m.launch(next)
		}
	}()
}

// execute runs a job's export into its folder and records the outcome.
func (m *exportJobs) execute(ctx context.Context, j *exportJob) {
	defer func() {
		if v := recover(); v != nil {
			m.log.Error("export job panicked", "job", j.ID, "project", j.Slug, "panic", v)
			m.finish(j, nil, nil, errors.New("panic"))
		}
	}()
	sink, err := export.NewDirSink(filepath.Join(m.dir, j.ID))
	if err != nil {
		m.finish(j, nil, nil, err)
		return
	}
	ord := &orderedSink{DirSink: sink}
	man, err := j.work(ctx, ord, func(n int) { j.read.Store(int64(n)) })
	if err == nil {
		err = export.WriteManifest(ord, man)
	}
	if err != nil {
		sink.Abort()
		m.finish(j, nil, nil, err)
		return
	}
	if err := sink.Commit(); err != nil {
		m.finish(j, nil, nil, err)
		return
	}
	if j.after != nil {
		j.after(ctx, man)
	}
	m.finish(j, man, zipOrder(sink.Files(), ord.names), nil)
}

func (m *exportJobs) finish(j *exportJob, man *export.Manifest, files []export.File, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.finished = m.now()
	if err != nil {
		j.status = jobFailed
		switch {
		case m.ctx.Err() != nil:
			j.err = "the export stopped: the server shut down"
		case loupe.ErrorCode(err) == loupe.EINTERNAL:
			// Details (a full disk, a broken database) are for the log.
			m.log.Error("export job failed", "job", j.ID, "project", j.Slug, "err", err)
			j.err = "the export failed (the server's log says why); nothing was kept"
		default:
			j.err = loupe.ErrorMessage(err)
		}
		return
	}
	j.status, j.manifest, j.files = jobDone, man, files
	if j.read.Load() < int64(man.Items) {
		j.read.Store(int64(man.Items))
	}
}

// folder returns where a job's files are.
func (m *exportJobs) folder(j *exportJob) string { return filepath.Join(m.dir, j.ID) }

// get returns the project's job with the id, or ENOTFOUND: a job of
// another project is not found either.
func (m *exportJobs) get(projectID, id string) (*exportJob, error) {
	m.sweep()
	m.mu.Lock()
	j, ok := m.jobs[id]
	m.mu.Unlock()
	if !ok || j.ProjectID != projectID {
		return nil, notFoundf("no export job %q in this project (finished jobs are kept for %s)", id, exportJobTTL)
	}
	return j, nil
}

// list returns the project's jobs, newest first.
func (m *exportJobs) list(projectID string) []*exportJob {
	m.sweep()
	m.mu.Lock()
	var out []*exportJob
	for _, j := range m.jobs {
		if j.ProjectID == projectID {
			out = append(out, j)
		}
	}
	m.mu.Unlock()
	sort.Slice(out, func(a, b int) bool { return out[a].seq > out[b].seq })
	return out
}

// pendingSnapshot reports whether a job of the project that has not
// finished makes a snapshot of that name.
func (m *exportJobs) pendingSnapshot(projectID, name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, j := range m.jobs {
		if j.ProjectID == projectID && j.Snapshot == name {
			if st := j.state().Status; st == jobQueued || st == jobRunning {
				return true
			}
		}
	}
	return false
}

// sweep forgets jobs finished more than exportJobTTL ago and removes their
// folders, and once an hour removes folders no job owns that are older
// than that.
func (m *exportJobs) sweep() {
	cutoff := m.now().Add(-exportJobTTL)
	var gone []string
	m.mu.Lock()
	for id, j := range m.jobs {
		st := j.state()
		if (st.Status == jobDone || st.Status == jobFailed) && st.Finished.Before(cutoff) {
			delete(m.jobs, id)
			gone = append(gone, filepath.Join(m.dir, id))
		}
	}
	folder := time.Since(m.lastSweep) > time.Hour
	m.mu.Unlock()
	for _, d := range gone {
		os.RemoveAll(d)
	}
	if folder {
		m.sweepFolder()
	}
}

// sweepFolder removes the entries of the jobs folder that no job of this
// server owns and that are older than exportJobTTL: left by a process
// that died, or by another process sharing the folder whose jobs are
// done with.
func (m *exportJobs) sweepFolder() {
	m.mu.Lock()
	m.lastSweep = time.Now()
	owned := func(name string) bool {
		id := strings.TrimPrefix(name, ".")
		if i := strings.Index(id, ".partial-"); i >= 0 {
			id = id[:i]
		}
		_, ok := m.jobs[id]
		return ok
	}
	if m.dir == "" {
		m.mu.Unlock()
		return
	}
	entries, err := os.ReadDir(m.dir)
	var old []string
	for _, e := range entries {
		info, ierr := e.Info()
		if ierr != nil || owned(e.Name()) || time.Since(info.ModTime()) < exportJobTTL {
			continue
		}
		old = append(old, filepath.Join(m.dir, e.Name()))
	}
	m.mu.Unlock()
	if err != nil {
		m.log.Warn("export jobs folder", "dir", m.dir, "err", err)
		return
	}
	for _, d := range old {
		os.RemoveAll(d)
	}
}

// close stops the jobs: waiting ones fail, running ones are cancelled and
// waited for; then every job's folder is removed.
func (m *exportJobs) close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	waiting := m.waiting
	m.waiting = nil
	m.mu.Unlock()
	for _, j := range waiting {
		j.mu.Lock()
		j.status, j.finished, j.err = jobFailed, m.now(), "the server shut down before the export started"
		j.mu.Unlock()
	}
	m.cancel()
	m.wg.Wait()
	if m.dir == "" {
		return
	}
	if m.tempDir {
		os.RemoveAll(m.dir)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.jobs {
		os.RemoveAll(filepath.Join(m.dir, id))
	}
}

// orderedSink is a DirSink that remembers the order its files were
// created in, the order of the entries of the job's zip.
type orderedSink struct {
	*export.DirSink
	names []string
}

// Create opens a new file of the export.
func (o *orderedSink) Create(name string) (io.WriteCloser, error) {
	w, err := o.DirSink.Create(name)
	if err == nil {
		o.names = append(o.names, name)
	}
	return w, err
}

// zipOrder puts files in the order their names were created.
func zipOrder(files []export.File, names []string) []export.File {
	byName := make(map[string]export.File, len(files))
	for _, f := range files {
		byName[f.Name] = f
	}
	out := make([]export.File, 0, len(files))
	for _, n := range names {
		if f, ok := byName[n]; ok {
			out = append(out, f)
		}
	}
	return out
}
