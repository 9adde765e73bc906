package web

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/export"
)

// exportDownload serves the browser's export link as a file download.
func (s *Server) exportDownload(w http.ResponseWriter, r *http.Request) { s.streamExport(w, r) }

// apiExport serves GET /api/v1/projects/{slug}/export?format=jsonl.
func (s *Server) apiExport(w http.ResponseWriter, r *http.Request) { s.streamExport(w, r) }

// streamExport writes the project's annotated items as they are read, so
// the first bytes leave at once and memory stays flat however large the
// project. An error after the first byte aborts the response, so that a
// cut-off file is never mistaken for a complete one.
func (s *Server) streamExport(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanExport, refuseExport)
	if !ok {
		return
	}
	name := r.URL.Query().Get("format")
	if name == "" {
		name = "jsonl"
	}
	format, err := export.LookupFormat(name)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.stream(w, r, p, p.Slug, format, map[string]any{"what": "annotations", "format": format.Name}, func(w io.Writer, flush func()) (int, error) {
		enc := export.NewJSONLEncoder(w)
		n := 0
		err := s.store.ExportRecords(r.Context(), p.ID, func(rec *export.Record) error {
			if err := enc.Encode(rec); err != nil {
				return err
			}
			if n++; n%1000 == 0 {
				enc.Flush()
				flush()
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		return n, enc.Close()
	})
}

// stream sends a download as it is written, so the first bytes leave at
// once and memory stays flat however large the project, and records the
// export in the project's history once it is complete ("records" joins
// what). An error after the first byte aborts the response, so that a
// cut-off file is never mistaken for a complete one.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, p *annotate.Project, name string, format export.Format, what map[string]any,
	write func(w io.Writer, flush func()) (int, error)) {
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a large export may take longer than the server's write timeout
	h := w.Header()
	h.Set("Content-Type", format.ContentType)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.%s"`, name, s.now().UTC().Format("20060102-150405"), format.Ext))
	h.Set("Cache-Control", "no-store")
	cw := &countWriter{w: w}
	n, err := write(cw, func() { rc.Flush() })
	if err != nil && cw.n == 0 {
		s.error(w, r, err)
		return
	} else if err != nil {
		s.log.Error("export failed", "project", p.Slug, "records", n, "err", err)
		panic(http.ErrAbortHandler)
	}
	what["records"] = n
	if err := s.store.RecordExport(r.Context(), p.ID, what); err != nil {
		// The file is sent; failing to record it must not pass silently.
		s.log.Error("recording an export in the history failed", "project", p.Slug, "err", err)
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
