package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// JSONLEncoder writes one JSON object a line:
//
//	{"id":"…","external_id":"…"|null,"data":{…},"annotations":[{"id":"…","user":"…",
//	 "version":2,"config_version":1,"values":{…},"lead_ms":0,
//	 "created_at":"…","updated_at":"…"}],"state":"approved","final":{…}}
//
// state is left out when unknown, final when no adjudication set one.
//
// Data and values are written as stored (canonical JSON with <, > and &
// escaped), so a line is produced without decoding them again.
type JSONLEncoder struct {
	w   *bufio.Writer
	buf []byte
}

// NewJSONLEncoder returns an encoder writing to w.
func NewJSONLEncoder(w io.Writer) *JSONLEncoder {
	return &JSONLEncoder{w: bufio.NewWriterSize(w, 64<<10)}
}

// Encode writes one record as a line.
func (e *JSONLEncoder) Encode(r *Record) error {
	b := e.buf[:0]
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
	b = append(b, `,"annotations":[`...)
	for i, a := range r.Annotations {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, a.ID)
		b = append(b, `,"user":`...)
		b = appendString(b, a.User)
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, int64(a.Version), 10)
		b = append(b, `,"config_version":`...)
		b = strconv.AppendInt(b, int64(a.ConfigVersion), 10)
		b = append(b, `,"values":`...)
		b = appendRaw(b, a.Values)
		b = append(b, `,"lead_ms":`...)
		b = strconv.AppendInt(b, a.LeadMS, 10)
		b = append(b, `,"created_at":"`...)
		b = a.CreatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","updated_at":"`...)
		b = a.UpdatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	b = append(b, ']')
	if r.State != "" {
		b = append(b, `,"state":`...)
		b = appendString(b, r.State)
	}
	if len(r.Final) > 0 {
		b = append(b, `,"final":`...)
		b = appendRaw(b, r.Final)
	}
	b = append(b, "}\n"...)
	e.buf = b
	if _, err := e.w.Write(b); err != nil {
		return fmt.Errorf("write jsonl: %w", err)
	}
	return nil
}

// Close flushes buffered lines.
func (e *JSONLEncoder) Close() error {
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("flush jsonl: %w", err)
	}
	return nil
}

// Flush writes buffered lines to the underlying writer, so that a streamed
// response shows progress.
func (e *JSONLEncoder) Flush() error { return e.w.Flush() }

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}
