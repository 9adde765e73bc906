package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/export"
	"github.com/loupehq/loupe/storage"
)

// specFlags are the flags that say what an export holds.
type specFlags struct {
	format, aggregate, split, stratify string
	states, labelers, since, until     string
	reviewed, flagged, hasFeedback     bool
	minAgreement                       float64
	seed                               int64
	set                                map[string]bool // flags given on the command line
}

func addSpecFlags(fs *flag.FlagSet) *specFlags {
	s := &specFlags{}
	fs.StringVar(&s.format, "format", "jsonl", "the export format: "+strings.Join(export.Formats(), ", "))
	fs.StringVar(&s.aggregate, "aggregate", "", "how annotations become rows: "+strings.Join(export.Aggregations, ", ")+" (default majority; jsonl and labelstudio keep every annotation)")
	fs.StringVar(&s.split, "split", "", "split the rows, e.g. `train=0.8,validation=0.1,test=0.1`, deterministically by item")
	fs.Int64Var(&s.seed, "seed", 0, "the seed of the split")
	fs.StringVar(&s.stratify, "stratify", "", "divide each value of this `block` by the split ratios on its own")
	fs.StringVar(&s.states, "state", "", "only items in these review `states`, comma-separated: pending, annotated, in_review, approved, rejected")
	fs.BoolVar(&s.reviewed, "reviewed", false, "only items a reviewer gave a verdict on")
	fs.BoolVar(&s.flagged, "flagged", false, "only items a labeler flagged")
	fs.StringVar(&s.labelers, "labeler", "", "only these labelers' annotations (user `names`, comma-separated)")
	fs.StringVar(&s.since, "since", "", "only annotations changed at or after this `time` (2026-11-01 or RFC 3339)")
	fs.StringVar(&s.until, "until", "", "only annotations changed before this `time`")
	fs.Float64Var(&s.minAgreement, "min-agreement", 0, "only items of two or more annotations agreeing at least this much (0 to 1)")
	fs.BoolVar(&s.hasFeedback, "has-feedback", false, "only items that got feedback (feedback blocks or the feedback API)")
	return s
}

// spec builds the export spec from the flags, with errors that name the
// flag.
func (s *specFlags) spec() (export.Spec, error) {
	spec := export.Spec{Format: s.format, Aggregate: s.aggregate}
	f := &spec.Filter
	f.States = splitList(s.states)
	f.Labelers = splitList(s.labelers)
	f.Reviewed, f.Flagged, f.HasFeedback, f.MinAgreement = s.reviewed, s.flagged, s.hasFeedback, s.minAgreement
	var err error
	if f.Since, err = parseWhen("since", s.since); err != nil {
		return spec, err
	}
	if f.Until, err = parseWhen("until", s.until); err != nil {
		return spec, err
	}
	if s.split != "" {
		parts, err := export.ParseSplit(s.split)
		if err != nil {
			return spec, err
		}
		spec.Split = &export.Split{Parts: parts, Seed: s.seed, Stratify: s.stratify}
	} else if s.stratify != "" || s.set["seed"] {
		return spec, loupe.FieldErrorf("split", "--seed and --stratify need --split")
	}
	return spec, nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// parseWhen reads a date (UTC midnight) or an RFC 3339 time.
func parseWhen(flagName, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, loupe.FieldErrorf(flagName, "--%s %q is not a date (2026-11-01) or an RFC 3339 time (2026-11-01T09:30:00Z)", flagName, s)
	}
	return t, nil
}

func runExport(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("export", `export --project SLUG [--format F] [--out FILE|DIR] [filters] [--aggregate A] [--split S --seed N [--stratify BLOCK]] [--snapshot NAME] [--db FILE]

Writes the project's annotated items in a dataset format. A format that
writes one file (jsonl, csv, labelstudio, spacy, conll, parquet) goes to
standard output or --out FILE; formats that write several files (hf,
coco, yolo) and every split export need --out DIR. Files are written
under a temporary name and renamed when complete.

--snapshot NAME records a reproducible snapshot of the export (needs
--out DIR; a manifest.json is written beside the data). Given alone with
the name of an existing snapshot, it writes that snapshot's files again,
byte for byte.`, env)
	db := dbFlag(fs)
	slug := fs.String("project", "", "the project's `slug` (required)")
	out := fs.String("out", "", "write to this `file` or folder instead of standard output")
	snapshot := fs.String("snapshot", "", "record the export as the snapshot `NAME`, or export that snapshot again")
	sf := addSpecFlags(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	sf.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { sf.set[f.Name] = true })
	if *slug == "" {
		return fmt.Errorf("%w: --project is required", errUsage)
	}
	spec, err := sf.spec()
	if err != nil {
		return err
	}
	format, err := export.LookupFormat(spec.Format)
	if err != nil {
		return err
	}
	d, p, err := openProject(ctx, *db, *slug)
	if err != nil {
		return err
	}
	defer d.Close()

	if *snapshot != "" {
		if *out == "" {
			return fmt.Errorf("%w: --snapshot needs --out DIR: a snapshot is a folder of files with its manifest.json", errUsage)
		}
		if _, err := d.SnapshotByName(ctx, p.ID, *snapshot); err == nil {
			for name := range sf.set {
				if name != "db" && name != "project" && name != "out" && name != "snapshot" {
					return loupe.FieldErrorf("snapshot", "snapshot %q already exists; to export it again give --snapshot and --out alone (--%s changes what it holds: choose a new name)", *snapshot, name)
				}
			}
			m, err := exportToDir(env, *out, func(sink export.Sink) (*export.Manifest, error) {
				return d.ExportSnapshot(ctx, p, *snapshot, export.Target{Sink: sink})
			})
			if err != nil {
				return err
			}
			return recordExport(ctx, d, p, map[string]any{"what": "snapshot", "snapshot": *snapshot, "again": true, "format": m.Spec.Format, "records": m.Rows, "items": m.Items})
		}
		// The snapshot records itself in the history.
		_, err := exportToDir(env, *out, func(sink export.Sink) (*export.Manifest, error) {
			return d.Export(ctx, p, spec, export.Target{Sink: sink, Snapshot: *snapshot, Progress: progressLine(env, "items read")})
		})
		return err
	}

	if !format.Single || spec.Split != nil {
		if *out == "" {
			return fmt.Errorf("%w: the %s format%s writes several files: give --out DIR", errUsage, format.Name, map[bool]string{true: " with --split", false: ""}[spec.Split != nil])
		}
		m, err := exportToDir(env, *out, func(sink export.Sink) (*export.Manifest, error) {
			return d.Export(ctx, p, spec, export.Target{Sink: sink, Progress: progressLine(env, "items read")})
		})
		if err != nil {
			return err
		}
		return recordExport(ctx, d, p, exportWhat(m))
	}
	var m *export.Manifest
	write := func(w io.Writer) (int, error) {
		sink := export.NewStreamSink(w)
		var err error
		m, err = d.Export(ctx, p, spec, export.Target{Sink: sink})
		if err != nil {
			return 0, err
		}
		return m.Rows, sink.Close()
	}
	if _, err := writeExport(env, *out, "rows", write); err != nil {
		return err
	}
	return recordExport(ctx, d, p, exportWhat(m))
}

// exportWhat describes an export for its export.made event.
func exportWhat(m *export.Manifest) map[string]any {
	what := map[string]any{"what": "annotations", "format": m.Spec.Format, "records": m.Rows, "items": m.Items, "filter": m.Spec.Filter.String()}
	if m.Spec.Split != nil {
		what["split"], what["seed"] = m.Spec.Split.String(), m.Spec.Split.Seed
	}
	if m.Spec.Aggregate != "" {
		what["aggregate"] = m.Spec.Aggregate
	}
	return what
}

// exportToDir writes an export into a new folder, with its manifest.json,
// moving it into place only when it is complete.
func exportToDir(env *Env, dir string, run func(export.Sink) (*export.Manifest, error)) (*export.Manifest, error) {
	sink, err := export.NewDirSink(dir)
	if err != nil {
		return nil, err
	}
	m, err := run(sink)
	if err == nil {
		err = export.WriteManifest(sink, m)
	}
	if err == nil {
		err = sink.Commit()
	} else {
		sink.Abort()
	}
	if err != nil {
		return nil, fmt.Errorf("export to %s failed, nothing written: %w", dir, err)
	}
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	what := "Exported"
	if m.Snapshot != "" {
		what = "Snapshot " + strconv.Quote(m.Snapshot) + ":"
	}
	fmt.Fprintf(env.Stderr, "%s %d items, %d rows to %s (%s, manifest.json).\n", what, m.Items, m.Rows, dir, strings.Join(names, ", "))
	return m, nil
}

// progressLine reports progress on standard error: a line rewritten in
// place on a terminal, a plain line every few seconds otherwise.
func progressLine(env *Env, what string) func(n int) {
	tty := isTerminal(env.Stderr)
	start := time.Now()
	last := start
	return func(n int) {
		now := time.Now()
		if now.Sub(last) < 200*time.Millisecond || !tty && now.Sub(last) < 5*time.Second {
			return
		}
		last = now
		rate := float64(n) / max(now.Sub(start).Seconds(), 0.001)
		if tty {
			fmt.Fprintf(env.Stderr, "\r%d %s (%.0f/s)   ", n, what, rate)
		} else {
			fmt.Fprintf(env.Stderr, "%d %s (%.0f/s)\n", n, what, rate)
		}
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runSnapshot(ctx context.Context, args []string, env *Env) error {
	return sub(ctx, "snapshot", args, env, map[string]command{"list": runSnapshotList, "diff": runSnapshotDiff})
}

func runSnapshotList(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("snapshot list", "snapshot list --project SLUG [--db FILE]", env)
	db := dbFlag(fs)
	slug := fs.String("project", "", "the project's `slug` (required)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	d, p, err := openProjectFlag(ctx, *db, *slug)
	if err != nil {
		return err
	}
	defer d.Close()
	snaps, err := d.Snapshots(ctx, p.ID)
	if err != nil {
		return err
	}
	for _, s := range snaps {
		var m export.Manifest
		json.Unmarshal(s.Manifest, &m)
		fmt.Fprintf(env.Stdout, "%s\t%s\t%s\t%d items\t%d rows\tconfig v%d\t%s\n", s.Name, s.CreatedAt.Format(time.RFC3339), s.Spec.Format, m.Items, m.Rows, s.ConfigVersion, s.CreatedBy)
	}
	return nil
}

func runSnapshotDiff(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("snapshot diff", "snapshot diff --project SLUG A B [--json] [--db FILE]\n\nLists the items added, removed and changed from snapshot A to snapshot B.", env)
	db := dbFlag(fs)
	slug := fs.String("project", "", "the project's `slug` (required)")
	asJSON := fs.Bool("json", false, "one JSON object a line")
	pos, err := parse(fs, args, 2)
	if err != nil {
		return err
	}
	d, p, err := openProjectFlag(ctx, *db, *slug)
	if err != nil {
		return err
	}
	defer d.Close()
	enc := json.NewEncoder(env.Stdout)
	counts, err := d.DiffSnapshots(ctx, p.ID, pos[0], pos[1], func(c storage.SnapshotChange) error {
		if *asJSON {
			return enc.Encode(c)
		}
		name := c.ItemID
		if c.ExternalID != "" {
			name = c.ExternalID
		}
		line := fmt.Sprintf("%-8s %s", c.Change, name)
		if c.What != "" {
			line += " (" + c.What + ")"
		}
		_, err := fmt.Fprintln(env.Stdout, line)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "%s → %s: %d added, %d removed, %d changed.\n", pos[0], pos[1], counts["added"], counts["removed"], counts["changed"])
	return nil
}

func runImport(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("import", `import --project SLUG [--format F] [--dedupe id|hash|none] [--id-column COL] [--field NAME] (FILE | DIR | - | --predictions FILE) [--db FILE] [--media-root DIR]

Imports items (with the annotations and predictions they carry) into a
project. The format is told from the file's name and first bytes unless
--format gives it: `+strings.Join(annotate.ImportFormats(), ", ")+`.
A folder imports each image or audio file as an item and copies the files
into the project's media folder. The whole file is imported or, when any
line is bad, nothing is: every bad line is reported with its number.`, env)
	db := dbFlag(fs)
	slug := fs.String("project", "", "the project's `slug` (required)")
	preds := fs.String("predictions", "", "a predictions `file` for items already in the project (matched by external id), instead of items")
	format := fs.String("format", "", "the file's `format` (default: told from the file)")
	dedupe := fs.String("dedupe", annotate.DedupeID, "how items already present are matched: id (external id, else content), hash (content), none")
	idColumn := fs.String("id-column", "", "the CSV/TSV `column` holding the external id (default: id)")
	field := fs.String("field", "", "the data `field` of plain text, Prodigy and folder items (default: from the project's blocks)")
	mediaRoot := fs.String("media-root", "", "the media folder loupe serve uses (default: DB-media beside the database)")
	pos, err := parse(fs, args, -1)
	if err != nil {
		return err
	}
	switch {
	case *slug == "":
		return fmt.Errorf("%w: --project is required", errUsage)
	case *preds == "" && len(pos) != 1:
		return fmt.Errorf("%w: give the items FILE or DIR (or --predictions FILE)", errUsage)
	case *preds != "" && len(pos) != 0:
		return fmt.Errorf("%w: give an items FILE or --predictions FILE, not both", errUsage)
	case !slices.Contains(annotate.DedupeModes, *dedupe):
		return fmt.Errorf("%w: --dedupe %q: use one of %s", errUsage, *dedupe, strings.Join(annotate.DedupeModes, ", "))
	}
	name := *preds
	if name == "" {
		name = pos[0]
	}
	d, p, err := openProject(ctx, *db, *slug)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.DropAbandonedImports(ctx); err != nil {
		return err
	}
	if *preds != "" {
		r, closeFile, err := openInput(env, name)
		if err != nil {
			return err
		}
		defer closeFile()
		res, err := d.ImportPredictions(ctx, p, annotate.NewPredictionDecoder(r))
		if err != nil {
			return inFile(name, err)
		}
		fmt.Fprintf(env.Stdout, "Added %d predictions to %d items of %s.\n", res.Predictions, res.Added, p.Slug)
		return nil
	}
	opt := annotate.ReadOptions{Interface: p.Config.Interface(), Field: *field, IDColumn: *idColumn}
	var reader annotate.ItemReader
	var size int64
	var counter *countingReader
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		if *format != "" && *format != annotate.FormatFolder {
			return fmt.Errorf("%w: %s is a folder: only the folder format reads folders", errUsage, name)
		}
		*format = annotate.FormatFolder
		root := *mediaRoot
		if root == "" {
			root = strings.TrimSuffix(*db, filepath.Ext(*db)) + "-media"
		}
		fr, err := newMediaCopier(name, filepath.Join(root, p.Slug), opt)
		if err != nil {
			return err
		}
		reader = fr
	} else {
		r, closeFile, err := openInput(env, name)
		if err != nil {
			return err
		}
		defer closeFile()
		if st != nil {
			size = st.Size()
		}
		counter = &countingReader{r: r}
		br := bufio.NewReaderSize(counter, 64<<10)
		if *format == "" {
			head, _ := br.Peek(8 << 10)
			if *format, err = annotate.DetectFormat(name, head); err != nil {
				return inFile(name, err)
			}
		}
		if reader, err = annotate.NewItemReader(*format, br, opt); err != nil {
			return err
		}
	}
	progress := importProgress(env, counter, size)
	res, err := d.ImportItems(ctx, p, reader, annotate.ImportOptions{Format: *format, Dedupe: *dedupe, Progress: progress})
	if isTerminal(env.Stderr) {
		fmt.Fprintln(env.Stderr)
	}
	if err != nil {
		return inFile(name, err)
	}
	msg := fmt.Sprintf("Imported %d items into %s from %s (%s; %d already present)", res.Added, p.Slug, name, *format, res.Unchanged)
	if res.Predictions > 0 {
		msg += fmt.Sprintf(", with %d predictions", res.Predictions)
	}
	if res.Annotations > 0 {
		msg += fmt.Sprintf(", with %d annotations", res.Annotations)
	}
	fmt.Fprintln(env.Stdout, msg+".")
	return nil
}

// openInput opens a file, or standard input for "-".
func openInput(env *Env, name string) (io.Reader, func(), error) {
	if name == "-" {
		return env.Stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// importProgress reports an import's progress on standard error: a bar
// rewritten in place on a terminal (with the share of the file read when
// its size is known), a plain line every few seconds otherwise.
func importProgress(env *Env, counter *countingReader, size int64) func(read, added int) {
	tty := isTerminal(env.Stderr)
	start, last := time.Now(), time.Time{}
	if !tty {
		last = start // plain lines only for imports that take a while
	}
	return func(read, added int) {
		now := time.Now()
		if now.Sub(last) < 200*time.Millisecond || !tty && now.Sub(last) < 5*time.Second {
			return
		}
		last = now
		rate := float64(read) / max(now.Sub(start).Seconds(), 0.001)
		line := fmt.Sprintf("%d records read, %d items added (%.0f records/s)", read, added, rate)
		if tty && counter != nil && size > 0 {
			frac := min(float64(counter.n.Load())/float64(size), 1)
			const width = 30
			bar := strings.Repeat("█", int(frac*width)) + strings.Repeat("░", width-int(frac*width))
			line = fmt.Sprintf("%s %3.0f%% %s", bar, frac*100, line)
		}
		if tty {
			fmt.Fprintf(env.Stderr, "\r%s ", line)
		} else {
			fmt.Fprintln(env.Stderr, line)
		}
	}
}

// mediaCopier reads a folder's media files as items and copies each file
// into the project's media folder as it goes, so that the items show once
// the import commits. Files land under the same relative path; nothing
// can be written outside the media folder (os.Root refuses it).
type mediaCopier struct {
	src  *os.Root
	dst  *os.Root
	r    annotate.ItemReader
	opt  annotate.ReadOptions
	root string
}

func newMediaCopier(dir, media string, opt annotate.ReadOptions) (*mediaCopier, error) {
	src, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(media, 0o755); err != nil {
		return nil, err
	}
	dst, err := os.OpenRoot(media)
	if err != nil {
		return nil, err
	}
	r := annotate.NewFolderReader(src.FS(), opt)
	return &mediaCopier{src: src, dst: dst, r: r, opt: opt, root: dir}, nil
}

func (m *mediaCopier) Next() (*annotate.ItemRecord, error) {
	rec, err := m.r.Next()
	if err != nil {
		return rec, err
	}
	rel := rec.ExternalID
	if err := annotate.CheckMediaPath(rel); err != nil {
		return nil, loupe.Errorf(loupe.EINVALID, "%s: %s", rel, loupe.ErrorMessage(err))
	}
	if err := m.copy(rel); err != nil {
		return nil, fmt.Errorf("copy %s into the media folder: %w", rel, err)
	}
	return rec, nil
}

func (m *mediaCopier) copy(rel string) error {
	in, err := m.src.Open(rel)
	if err != nil {
		return err
	}
	defer in.Close()
	if dir := filepath.Dir(rel); dir != "." {
		if err := m.dst.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	out, err := m.dst.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
