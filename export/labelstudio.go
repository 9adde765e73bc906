package export

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"strings"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

func init() {
	Register(&Format{Name: "labelstudio", Doc: "Label Studio task JSON: a list of tasks with every annotation and prediction as result items, importable into Label Studio and into Loupe",
		ContentType: "application/json; charset=utf-8", Ext: "json", Single: true, Whole: true,
		New: func(s Sink, m *Meta) (Writer, error) {
			w := &lsWriter{in: m.Interface, open: map[string]int{}}
			if cfg, err := blocks.LabelStudioConfig(m.Interface); err == nil {
				w.hiddenItem = strings.Contains(cfg, `value="$_item"`)
			}
			w.files = SplitFiles{Sink: s, Ext: "json", Header: func(w io.Writer, _ string) error {
				_, err := io.WriteString(w, "[")
				return err
			}}
			return w, w.files.Ensure(m.Splits)
		}})
}

// lsWriter writes Label Studio tasks, one JSON array per file, streamed:
// "[", the tasks separated by ",\n", "\n]\n". Each item is one task with
// every annotation (the format is Whole):
//
//	{"id": SEQ, "data": {…},
//	 "meta": {"loupe_item_id": "…", "external_id": "…", "state": "…", "split": "…", "final": {…}},
//	 "annotations": [{"id": N, "created_username": "alice", "result": [RESULT…],
//	   "was_cancelled": false, "ground_truth": false,
//	   "created_at": "…", "updated_at": "…", "lead_time": 5.12,
//	   "loupe": {"id": "…", "user": "…", "author": "…", "version": 2, "config_version": 3, "values": {…}}}],
//	 "predictions": [{"model_version": "MODEL@VERSION", "score": 0.9, "result": [RESULT…],
//	   "loupe": {"id": "…", "block": "…", "model": "…", "version": "…", "source": "…"}}]}
//
// RESULT is an item of Interface.ToLabelStudio (from_name = the block's
// name, to_name, type, value) with an id and "origin": "manual" in
// annotations, "prediction" (and the prediction's score) in predictions.
//
// Ids are numbers, as Label Studio keeps them: the task's id is the
// item's import sequence (as Loupe's ML backend calls send it), an
// annotation's id a 53-bit hash of Loupe's id (Label Studio keeps it as
// import_id). Result ids are 10 hex digits of the SHA-256 of the
// annotation's or prediction's id, the block and the result's place, so
// that an export is the same bytes each time.
//
// completed_by is left out: Label Studio resolves it to one of its own
// users by numeric id or e-mail and refuses the import when none
// matches, and Loupe's users have neither. Without it, Label Studio
// gives the annotations to the user who imports; the labeler's name is in
// created_username (which Label Studio writes in its own exports and
// ignores on import) and in loupe.user.
//
// The "loupe" objects and task meta carry what Label Studio's results
// cannot say (a flag's note, a verdict's or pairwise's reason, a pairwise
// tie, the final answer), so that Loupe re-imports the file without loss;
// Label Studio ignores the annotation and prediction keys and keeps meta.
// Values of blocks the current config refuses fail the export, naming the
// item, annotation and block: export jsonl to keep them as stored.
//
// The labeling config (blocks.LabelStudioConfig) is not written beside
// the tasks, so that an unsplit export stays one file that can be
// streamed; an interface that shows no field needs data._item, which is
// added (the item's external id, else its id).
type lsWriter struct {
	in         *blocks.Interface
	files      SplitFiles
	open       map[string]int // split → tasks written
	hiddenItem bool
	buf        []byte
}

// lsResultOut is a result item as written.
type lsResultOut struct {
	blocks.LSResult
	Origin string `json:"origin"`
}

func (e *lsWriter) Write(row *Row) error {
	w, err := e.files.Get(row.Split)
	if err != nil {
		return err
	}
	rec := row.Record
	var data map[string]any
	if err := json.Unmarshal(rec.Data, &data); err != nil {
		return fmt.Errorf("item data: %w", err)
	}
	b := e.buf[:0]
	if e.open[row.Split] > 0 {
		b = append(b, ',')
	}
	e.open[row.Split]++
	b = append(b, "\n{\"id\":"...)
	b = strconv.AppendInt(b, lsTaskID(rec), 10)
	b = append(b, `,"data":`...)
	if e.hiddenItem {
		if _, ok := data["_item"]; !ok {
			data["_item"] = itemRef(rec)
		}
		js, _ := json.Marshal(data)
		b = append(b, js...)
	} else {
		b = appendRaw(b, rec.Data)
	}
	b = append(b, `,"meta":{"loupe_item_id":`...)
	b = appendString(b, rec.ItemID)
	b = appendOptString(b, "external_id", rec.ExternalID)
	b = appendOptString(b, "state", rec.State)
	b = appendOptString(b, "split", row.Split)
	b = appendOptRaw(b, "final", rec.Final)
	b = append(b, `},"annotations":[`...)
	for i := range rec.Annotations {
		a := &rec.Annotations[i]
		if i > 0 {
			b = append(b, ',')
		}
		var values map[string]json.RawMessage
		if err := json.Unmarshal(a.Values, &values); err != nil {
			return fmt.Errorf("annotation %s: values: %w", a.ID, err)
		}
		results, err := e.in.ToLabelStudio(values, data)
		if err != nil {
			return fmt.Errorf("annotation %s of %s: %s", a.ID, a.User, loupe.ErrorMessage(err))
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, lsID(a.ID), 10)
		b = append(b, `,"created_username":`...)
		b = appendString(b, a.User)
		b = append(b, `,"result":`...)
		b = appendResults(b, results, a.ID, "manual", nil)
		b = append(b, `,"was_cancelled":false,"ground_truth":false,"created_at":`...)
		b = appendTime(b, a.CreatedAt)
		b = append(b, `,"updated_at":`...)
		b = appendTime(b, a.UpdatedAt)
		b = append(b, `,"lead_time":`...)
		b = strconv.AppendFloat(b, float64(a.LeadMS)/1000, 'f', -1, 64)
		b = append(b, `,"loupe":{"id":`...)
		b = appendString(b, a.ID)
		b = append(b, `,"user":`...)
		b = appendString(b, a.User)
		b = appendOptString(b, "author", a.Author)
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, int64(a.Version), 10)
		b = append(b, `,"config_version":`...)
		b = strconv.AppendInt(b, int64(a.ConfigVersion), 10)
		b = append(b, `,"values":`...)
		b = appendRaw(b, a.Values)
		b = append(b, "}}"...)
	}
	b = append(b, `],"predictions":[`...)
	for i := range rec.Predictions {
		p := &rec.Predictions[i]
		if i > 0 {
			b = append(b, ',')
		}
		results, err := e.in.ToLabelStudio(map[string]json.RawMessage{p.Block: p.Value}, data)
		if err != nil {
			return fmt.Errorf("prediction %s of %s: %s", p.ID, p.Model, loupe.ErrorMessage(err))
		}
		version := p.Model
		if p.ModelVersion != "" {
			version += "@" + p.ModelVersion
		}
		b = append(b, `{"model_version":`...)
		b = appendString(b, version)
		if p.Score != nil {
			b = append(b, `,"score":`...)
			b = strconv.AppendFloat(b, *p.Score, 'g', -1, 64)
		}
		b = append(b, `,"result":`...)
		b = appendResults(b, results, p.ID, "prediction", p.Score)
		b = append(b, `,"loupe":{"id":`...)
		b = appendString(b, p.ID)
		b = append(b, `,"block":`...)
		b = appendString(b, p.Block)
		b = append(b, `,"model":`...)
		b = appendString(b, p.Model)
		b = append(b, `,"version":`...)
		b = appendString(b, p.ModelVersion)
		b = append(b, `,"source":`...)
		b = appendString(b, p.Source)
		b = append(b, "}}"...)
	}
	b = append(b, "]}"...)
	e.buf = b
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write labelstudio: %w", err)
	}
	return nil
}

// appendResults appends result items with ids hashed from owner (an
// annotation's or prediction's id) and their place, and their origin.
func appendResults(b []byte, results []blocks.LSResult, owner, origin string, score *float64) []byte {
	b = append(b, '[')
	for i, r := range results {
		if i > 0 {
			b = append(b, ',')
		}
		if r.ID == "" {
			sum := sha256.Sum256([]byte(owner + "\x00" + r.FromName + "\x00" + strconv.Itoa(i)))
			r.ID = hex.EncodeToString(sum[:5])
		}
		if score != nil && r.Score == nil {
			r.Score = score
		}
		js, _ := json.Marshal(lsResultOut{LSResult: r, Origin: origin})
		b = append(b, js...)
	}
	return append(b, ']')
}

func (e *lsWriter) Close() error {
	err := e.files.Each(func(split string, w io.Writer) error {
		end := "]\n"
		if e.open[split] > 0 {
			end = "\n]\n"
		}
		_, err := io.WriteString(w, end)
		return err
	})
	if cerr := e.files.Close(); err == nil {
		err = cerr
	}
	return err
}

// lsTaskID is a task's Label Studio id: the item's import sequence, or a
// hash of its id when the sequence is unknown.
func lsTaskID(rec *Record) int64 {
	if rec.Seq > 0 {
		return rec.Seq
	}
	return lsID(rec.ItemID)
}

// lsID maps a Loupe id to a Label Studio numeric id: FNV-1a, 53 bits, so
// that JavaScript reads it exactly (the same mapping as Loupe's ML
// backend webhooks).
func lsID(id string) int64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return int64(h.Sum64() >> 11)
}

// itemRef names an item for people: its external id, else its id.
func itemRef(rec *Record) string {
	if rec.ExternalID != "" {
		return rec.ExternalID
	}
	return rec.ItemID
}
