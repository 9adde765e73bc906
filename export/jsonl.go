package export

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

func init() {
	Register(&Format{Name: "jsonl", Doc: "Loupe's full record: one item a line with every annotation, the suggestions shown and their outcome, predictions, reviews, feedback and the final answer",
		ContentType: "application/x-ndjson; charset=utf-8", Ext: "jsonl", Single: true, Whole: true,
		New: func(s Sink, m *Meta) (Writer, error) {
			w := &jsonlWriter{files: SplitFiles{Sink: s, Ext: "jsonl"}}
			return w, w.files.Ensure(m.Splits)
		}})
}

// jsonlWriter writes Loupe's full record, one JSON object a line:
//
//	{"id":"…","external_id":"…"|null,"data":{…},"state":"approved","split":"train",
//	 "annotations":[{"id":"…","user":"…","author":"…","version":2,"config_version":1,"values":{…},
//	   "suggestions":[{"block":"…","prediction_id":"…","model":"…","version":"…","score":0.9,"value":…,"outcome":"accepted"}],
//	   "lead_ms":0,"created_at":"…","updated_at":"…"}],
//	 "predictions":[{"id":"…","block":"…","model":"…","version":"…","score":0.9,"value":…,"source":"import","created_at":"…"}],
//	 "reviews":[{"id":"…","reviewer":"…","verdict":"reject","annotation_id":"…","comment":"…","values":{…},"created_at":"…"}],
//	 "feedback":[{"id":"…","model":"…","version":"…","rating_block":"…","rating":…,"correction":{…},"comment":"…","created_at":"…"}],
//	 "final":{…}}
//
// state is left out when unknown, split when the export is not split,
// author when the labeler made the version, suggestions, predictions,
// reviews and feedback when empty, final when no adjudication set one.
// Data and values are written as stored (canonical JSON), so that a line
// is produced without decoding them again.
type jsonlWriter struct {
	files SplitFiles
	buf   []byte
}

func (e *jsonlWriter) Write(row *Row) error {
	w, err := e.files.Get(row.Split)
	if err != nil {
		return err
	}
	e.buf = AppendRecord(e.buf[:0], row.Record, row.Split)
	e.buf = append(e.buf, '\n')
	if _, err := w.Write(e.buf); err != nil {
		return fmt.Errorf("write jsonl: %w", err)
	}
	return nil
}

func (e *jsonlWriter) Close() error { return e.files.Close() }

// AppendRecord appends r as one JSON object (Loupe's full record) to b.
func AppendRecord(b []byte, r *Record, split string) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, r.ItemID)
	b = append(b, `,"external_id":`...)
	if r.ExternalID == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, r.ExternalID)
	}
	b = append(b, `,"data":`...)
	b = appendRaw(b, r.Data)
	b = appendOptString(b, "state", r.State)
	b = appendOptString(b, "split", split)
	b = append(b, `,"annotations":[`...)
	for i := range r.Annotations {
		a := &r.Annotations[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
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
		if sg := a.Suggestions(); len(sg) > 0 {
			js, _ := json.Marshal(sg)
			b = append(b, `,"suggestions":`...)
			b = append(b, js...)
		}
		b = append(b, `,"lead_ms":`...)
		b = strconv.AppendInt(b, a.LeadMS, 10)
		b = append(b, `,"created_at":`...)
		b = appendTime(b, a.CreatedAt)
		b = append(b, `,"updated_at":`...)
		b = appendTime(b, a.UpdatedAt)
		b = append(b, '}')
	}
	b = append(b, ']')
	if len(r.Predictions) > 0 {
		b = append(b, `,"predictions":[`...)
		for i := range r.Predictions {
			p := &r.Predictions[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendString(b, p.ID)
			b = append(b, `,"block":`...)
			b = appendString(b, p.Block)
			b = append(b, `,"model":`...)
			b = appendString(b, p.Model)
			b = append(b, `,"version":`...)
			b = appendString(b, p.ModelVersion)
			if p.Score != nil {
				b = append(b, `,"score":`...)
				b = strconv.AppendFloat(b, *p.Score, 'g', -1, 64)
			}
			b = append(b, `,"value":`...)
			b = appendRaw(b, p.Value)
			b = append(b, `,"source":`...)
			b = appendString(b, p.Source)
			b = append(b, `,"created_at":`...)
			b = appendTime(b, p.CreatedAt)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(r.Reviews) > 0 {
		b = append(b, `,"reviews":[`...)
		for i := range r.Reviews {
			v := &r.Reviews[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendString(b, v.ID)
			b = append(b, `,"reviewer":`...)
			b = appendString(b, v.Reviewer)
			b = append(b, `,"verdict":`...)
			b = appendString(b, v.Verdict)
			b = appendOptString(b, "annotation_id", v.AnnotationID)
			b = appendOptString(b, "comment", v.Comment)
			if !isEmptyValue(v.Values) {
				b = append(b, `,"values":`...)
				b = appendRaw(b, v.Values)
			}
			b = append(b, `,"created_at":`...)
			b = appendTime(b, v.CreatedAt)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(r.Feedback) > 0 {
		b = append(b, `,"feedback":[`...)
		for i := range r.Feedback {
			f := &r.Feedback[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendString(b, f.ID)
			b = append(b, `,"model":`...)
			b = appendString(b, f.Model)
			b = append(b, `,"version":`...)
			b = appendString(b, f.Version)
			b = appendOptString(b, "rating_block", f.RatingBlock)
			b = appendOptRaw(b, "rating", f.Rating)
			b = appendOptRaw(b, "correction", f.Correction)
			b = appendOptString(b, "comment", f.Comment)
			b = append(b, `,"created_at":`...)
			b = appendTime(b, f.CreatedAt)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendOptRaw(b, "final", r.Final)
	return append(b, '}')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// appendOptString appends ,"key":"value" unless value is empty.
func appendOptString(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, `,"`+key+`":`...)
	return appendString(b, value)
}

// appendOptRaw appends ,"key":value unless value is empty.
func appendOptRaw(b []byte, key string, value json.RawMessage) []byte {
	if len(value) == 0 {
		return b
	}
	b = append(b, `,"`+key+`":`...)
	return append(b, value...)
}

func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}
