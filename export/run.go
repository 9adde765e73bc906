package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// Spec is what to export: the format, which items, how their annotations
// become rows, and how rows are split. It is what a snapshot records.
type Spec struct {
	Format    string `json:"format"`
	Filter    Filter `json:"filter"`
	Aggregate string `json:"aggregate"`
	Split     *Split `json:"split,omitempty"`
}

// Check validates the spec against the project's interface and returns
// the format.
func (s *Spec) Check(in *blocks.Interface) (*Format, error) {
	f, err := LookupFormat(s.Format)
	if err != nil {
		return nil, err
	}
	if s.Aggregate == "" {
		s.Aggregate = AggregateMajority
	}
	if err := CheckAggregate(s.Aggregate); err != nil {
		return nil, err
	}
	if err := s.Filter.Check(); err != nil {
		return nil, err
	}
	if s.Split != nil && s.Split.Stratify != "" {
		if _, ok := in.Valuer(s.Split.Stratify); !ok {
			return nil, loupe.FieldErrorf("stratify", "no block named %q to stratify by; blocks with values: %s", s.Split.Stratify, valuerList(in))
		}
	}
	if f.Check != nil {
		if err := f.Check(in); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func valuerList(in *blocks.Interface) string {
	var names []string
	for _, v := range in.Valuers() {
		names = append(names, v.Common().Name)
	}
	return strings.Join(names, ", ")
}

// Source gives an export's records in the project's order. Each may be
// called more than once (a stratified split reads twice) and must give
// the same records each time. The record passed to fn may be reused
// after fn returns.
type Source interface {
	Each(ctx context.Context, fn func(*Record) error) error
}

// Manifest records what an export holds, written as manifest.json beside
// its files and kept with a snapshot.
type Manifest struct {
	Snapshot      string            `json:"snapshot,omitempty"`
	Project       string            `json:"project"`
	Title         string            `json:"title"`
	CreatedAt     time.Time         `json:"created_at"`
	Spec          Spec              `json:"spec"`
	ConfigVersion int               `json:"config_version"`
	Models        []string          `json:"models"`
	Items         int               `json:"items"`
	Rows          int               `json:"rows"`
	Splits        map[string]*Count `json:"splits"` // split name ("all" when not split) → counts
	Skipped       map[string]int    `json:"skipped,omitempty"`
	Ties          map[string]int    `json:"ties,omitempty"` // block → rows where the majority vote tied
	Files         []File            `json:"files"`
}

// Count is the rows of one split, and per block how many rows hold each
// label.
type Count struct {
	Rows   int                       `json:"rows"`
	Labels map[string]map[string]int `json:"labels,omitempty"`
}

// Filer is a sink that can list what it wrote.
type Filer interface {
	Files() []File
}

// Options are the parts of a run that are not recorded in a snapshot.
type Options struct {
	// OnRecord sees every record the filter keeps, before its rows are
	// written (a snapshot pins what it saw).
	OnRecord func(*Record) error
	// Progress is called with the number of items read so far, every
	// 1,000 items and at the end.
	Progress func(items int)
}

// Run exports the records of src into sink: filter, aggregate, split,
// write. meta describes the project; Run fills in its Splits, Aggregate
// and Models.
func Run(ctx context.Context, src Source, spec Spec, meta *Meta, sink Sink, opt Options) (*Manifest, error) {
	f, err := spec.Check(meta.Interface)
	if err != nil {
		return nil, err
	}
	meta.Aggregate = spec.Aggregate
	meta.Splits = spec.Split.Names()
	var assigned map[string]string
	if spec.Split != nil && spec.Split.Stratify != "" {
		if assigned, err = stratify(ctx, src, &spec, meta.Interface); err != nil {
			return nil, err
		}
	}
	w, err := f.New(sink, meta)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Project: meta.Project, Title: meta.Title, CreatedAt: meta.CreatedAt.UTC(), Spec: spec,
		ConfigVersion: meta.ConfigVersion, Splits: map[string]*Count{}, Skipped: map[string]int{}, Ties: map[string]int{}}
	for _, name := range meta.Splits {
		m.Splits[name] = &Count{}
	}
	if spec.Split == nil {
		m.Splits["all"] = &Count{}
	}
	models := map[string]bool{}
	read := 0
	err = src.Each(ctx, func(rec *Record) error {
		if read++; read%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if opt.Progress != nil {
				opt.Progress(read)
			}
		}
		if !spec.Filter.Apply(rec, meta.Interface) {
			return nil
		}
		if opt.OnRecord != nil {
			if err := opt.OnRecord(rec); err != nil {
				return err
			}
		}
		var rows []Row
		if f.Whole {
			rows = []Row{{Record: rec}}
		} else {
			var skip string
			if rows, skip = aggregate(rec, spec.Aggregate); skip != "" {
				m.Skipped[skip]++
				return nil
			}
		}
		split := ""
		if spec.Split != nil {
			if assigned != nil {
				split = assigned[rec.ItemID]
			} else {
				split = spec.Split.Part(spec.Split.Position(rec.ItemID))
			}
		}
		for _, p := range rec.Predictions {
			models[p.Model+"@"+p.ModelVersion] = true
		}
		m.Items++
		count := m.Splits[split]
		if split == "" {
			count = m.Splits["all"]
		}
		for i := range rows {
			row := &rows[i]
			row.Split = split
			for _, b := range row.Ties {
				m.Ties[b]++
			}
			if err := w.Write(row); err != nil {
				return fmt.Errorf("item %s: %w", itemName(rec), err)
			}
			m.Rows++
			count.Rows++
			countLabels(count, row, rec)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if opt.Progress != nil {
		opt.Progress(read)
	}
	meta.Models = sortedKeys(models)
	m.Models = meta.Models
	if err := w.Close(); err != nil {
		return nil, err
	}
	if fl, ok := sink.(Filer); ok {
		m.Files = fl.Files()
	}
	if m.Models == nil {
		m.Models = []string{}
	}
	return m, nil
}

func itemName(rec *Record) string {
	if rec.ExternalID != "" {
		return fmt.Sprintf("%q", rec.ExternalID)
	}
	return rec.ItemID
}

// stratify reads the source once to divide each stratum (the items whose
// aggregated value of the stratify block is the same) by the split ratios.
func stratify(ctx context.Context, src Source, spec *Spec, in *blocks.Interface) (map[string]string, error) {
	strata := map[string]*stratum{}
	err := src.Each(ctx, func(rec *Record) error {
		if !spec.Filter.Apply(rec, in) {
			return nil
		}
		key := ""
		agg := spec.Aggregate
		if agg == AggregateEvery {
			agg = AggregateMajority
		}
		if rows, _ := aggregate(rec, agg); len(rows) > 0 {
			key = canonical(rows[0].Values[spec.Split.Stratify])
		}
		st := strata[key]
		if st == nil {
			st = &stratum{}
			strata[key] = st
		}
		st.items = append(st.items, stratumItem{id: rec.ItemID, pos: spec.Split.Position(rec.ItemID)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, key := range sortedKeys(strata) {
		spec.Split.assignStratum(strata[key], out)
	}
	return out, nil
}

// countLabels adds a row's labels to the split's counts: per block, each
// string, number or boolean value, each string of a list, and the label
// of each span or box.
func countLabels(c *Count, row *Row, rec *Record) {
	values := row.Values
	if values == nil && len(rec.Final) > 0 {
		json.Unmarshal(rec.Final, &values)
	}
	for block, raw := range values {
		for _, label := range labelsOf(raw) {
			if c.Labels == nil {
				c.Labels = map[string]map[string]int{}
			}
			if c.Labels[block] == nil {
				c.Labels[block] = map[string]int{}
			}
			c.Labels[block][label]++
		}
	}
}

func labelsOf(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	switch raw[0] {
	case '"':
		var s string
		json.Unmarshal(raw, &s)
		return []string{s}
	case '[':
		var xs []json.RawMessage
		json.Unmarshal(raw, &xs)
		var out []string
		for _, x := range xs {
			x = bytes.TrimSpace(x)
			if len(x) == 0 {
				continue
			}
			if x[0] == '"' {
				var s string
				json.Unmarshal(x, &s)
				out = append(out, s)
			} else if x[0] == '{' {
				var o struct {
					Label *string `json:"label"`
				}
				if json.Unmarshal(x, &o) == nil && o.Label != nil {
					out = append(out, *o.Label)
				}
			}
		}
		sort.Strings(out)
		return out
	case '{', 'n':
		return nil
	default: // numbers and booleans
		return []string{string(raw)}
	}
}

// Records is a Source over records in memory (tests, small exports).
type Records []*Record

// Each calls fn for each record, on a copy, since filters narrow what
// they are given.
func (rs Records) Each(ctx context.Context, fn func(*Record) error) error {
	for _, r := range rs {
		c := *r
		c.Annotations = append([]Annotation(nil), r.Annotations...)
		if err := fn(&c); err != nil {
			return err
		}
	}
	return nil
}

// Target says where an export goes and what it records.
type Target struct {
	Sink     Sink
	Progress func(items int)
	// Snapshot, when set, names the snapshot the export makes: the items
	// and versions it holds are pinned, so that exporting the snapshot
	// again gives the same files.
	Snapshot string
}

// SnapshotInfo describes a recorded snapshot.
type SnapshotInfo struct {
	ID            string          `json:"-"`
	Name          string          `json:"name"`
	Spec          Spec            `json:"spec"`
	ConfigVersion int             `json:"config_version"`
	AsOf          string          `json:"-"`
	Manifest      json.RawMessage `json:"manifest"`
	CreatedBy     string          `json:"created_by"`
	CreatedAt     time.Time       `json:"created_at"`
}
