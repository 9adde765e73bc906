package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/feedback"
)

// Browser is the data browser's store.
type Browser interface {
	Browse(ctx context.Context, projectID string, q annotate.BrowseQuery) (annotate.BrowsePage, error)
}

// browseParams are the query parameters only the data browser takes: the
// items API answers in the browser's shape when any of them is given.
var browseParams = []string{"labeler", "block", "value", "has_feedback", "flagged", "date", "from", "to", "q", "sort", "cursor"}

// isBrowse reports whether an items request asks for the data browser.
func isBrowse(q url.Values) bool {
	return slices.ContainsFunc(browseParams, q.Has)
}

// queryError refuses a query string that Go's parser would silently cut
// short (a raw ";" drops its pair), naming the parameter, so that
// "sort=seq;DROP TABLE items" is an error and not an unsorted page.
func queryError(r *http.Request) error {
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		for _, pair := range strings.Split(r.URL.RawQuery, "&") {
			if strings.Contains(pair, ";") {
				name, _, _ := strings.Cut(pair, "=")
				name, _ = url.QueryUnescape(name)
				return loupe.FieldErrorf(name, "parameter %q is malformed (a ; must be written %%3B)", name)
			}
		}
		return loupe.FieldErrorf("query", "the query string is malformed")
	}
	return nil
}

// badRequest answers a parameter error with 400 and the parameter's name.
func badRequest(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, map[string]apiError{"error": {Code: loupe.EINVALID, Message: loupe.ErrorMessage(err), Field: loupe.ErrorField(err)}})
}

// parseBrowse reads the data browser's query parameters, checking every
// value against its allowlist or the project's config. It returns EINVALID
// naming the parameter at fault.
func parseBrowse(p *annotate.Project, v url.Values) (annotate.BrowseQuery, error) {
	in := p.Config.Interface()
	q := annotate.BrowseQuery{State: v.Get("state"), Labeler: strings.TrimSpace(v.Get("labeler")), Search: v.Get("q"),
		Sort: v.Get("sort"), DateField: v.Get("date"), Block: v.Get("block"), Value: v.Get("value")}
	if q.State != "" && !slices.Contains(feedback.States, q.State) {
		return q, loupe.FieldErrorf("state", "state %q is unknown; use one of %s", q.State, strings.Join(feedback.States, ", "))
	}
	if q.Sort != "" && !slices.Contains(annotate.BrowseSorts, q.Sort) {
		return q, loupe.FieldErrorf("sort", "sort %q is unknown; use one of %s", q.Sort, strings.Join(annotate.BrowseSorts, ", "))
	}
	if q.DateField != "" && q.DateField != annotate.DateCreated && q.DateField != annotate.DateChanged {
		return q, loupe.FieldErrorf("date", "date %q is unknown; use created or changed", q.DateField)
	}
	for _, vl := range in.Valuers() {
		c := vl.Common()
		if c.Type == "flag" {
			q.FlagBlocks = append(q.FlagBlocks, c.Name)
		} else if q.ShowBlock == "" {
			q.ShowBlock = c.Name
		}
	}
	if q.Block != "" {
		if _, ok := in.Valuer(q.Block); !ok {
			return q, loupe.FieldErrorf("block", "block %q is not in this project", q.Block)
		}
	} else if q.Value != "" {
		return q, loupe.FieldErrorf("block", "a value filter needs its block")
	}
	var err error
	if q.HasFeedback, err = parseYesNo(v, "has_feedback"); err != nil {
		return q, err
	}
	if q.Flagged, err = parseYesNo(v, "flagged"); err != nil {
		return q, err
	}
	if q.From, err = parseDate(v, "from"); err != nil {
		return q, err
	}
	if q.To, err = parseDate(v, "to"); err != nil {
		return q, err
	}
	if len(q.Search) > 500 {
		return q, loupe.FieldErrorf("q", "search is too long")
	}
	if c := v.Get("cursor"); c != "" {
		if q.Cursor, err = annotate.DecodeCursor(c); err != nil {
			return q, loupe.FieldErrorf("cursor", "cursor is not valid; start from the first page")
		}
		if q.Cursor.Sort != orDefault(q.Sort, annotate.SortSeq) {
			return q, loupe.FieldErrorf("cursor", "cursor does not belong to this sort; start from the first page")
		}
	}
	if l := v.Get("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit <= 0 {
			return q, loupe.FieldErrorf("limit", "limit must be a positive number")
		}
	}
	return q, nil
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// errYesNo is the message for a yes/no parameter given something else.
var errYesNo = errors.New("must be yes or no")

func parseYesNo(v url.Values, name string) (*bool, error) {
	switch v.Get(name) {
	case "":
		return nil, nil
	case "yes", "true", "1":
		b := true
		return &b, nil
	case "no", "false", "0":
		b := false
		return &b, nil
	}
	return nil, loupe.FieldErrorf(name, "%s %s", name, errYesNo)
}

// parseDate reads a day (YYYY-MM-DD, UTC) or an RFC 3339 time.
func parseDate(v url.Values, name string) (time.Time, error) {
	s := v.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, loupe.FieldErrorf(name, "%s must be a date (YYYY-MM-DD) or an RFC 3339 time", name)
}

// browseLink is a sort link of the data browser's table.
type browseLink struct {
	Label   string
	URL     string
	Current string // "ascending", "descending" or ""
}

type browsePageData struct {
	page
	Project   *annotate.Project
	Query     url.Values
	Rows      []annotate.BrowseRow
	ShowBlock string
	Blocks    []string
	States    []string
	Sorts     []browseLink
	Next      string
	Prev      string
	Error     string
}

// browseURL is the browser's URL for the same filters with some
// parameters changed (an empty value removes one).
func browseURL(slug string, q url.Values, set ...string) string {
	out := url.Values{}
	for k, v := range q {
		if v[0] != "" {
			out[k] = v[:1]
		}
	}
	for i := 0; i+1 < len(set); i += 2 {
		if set[i+1] == "" {
			out.Del(set[i])
		} else {
			out.Set(set[i], set[i+1])
		}
	}
	return "/projects/" + slug + "/browse?" + out.Encode()
}

func (s *Server) browsePage(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseHistory)
	if !ok {
		return
	}
	b := s.store
	v := r.URL.Query()
	data := &browsePageData{page: page{Title: "Browse · " + p.Title}, Project: p, Query: v, States: feedback.States}
	for _, vl := range p.Config.Interface().Valuers() {
		data.Blocks = append(data.Blocks, vl.Common().Name)
	}
	sort := orDefault(v.Get("sort"), annotate.SortSeq)
	for _, f := range []struct{ label, field string }{{"#", annotate.SortSeq}, {"Created", annotate.SortCreated}, {"Last change", annotate.SortChanged}, {"State", annotate.SortState}} {
		l := browseLink{Label: f.label, URL: browseURL(p.Slug, v, "sort", f.field, "cursor", "")}
		switch sort {
		case f.field:
			l.Current, l.URL = "ascending", browseURL(p.Slug, v, "sort", "-"+f.field, "cursor", "")
		case "-" + f.field:
			l.Current = "descending"
		}
		data.Sorts = append(data.Sorts, l)
	}
	status := http.StatusOK
	err := queryError(r)
	var q annotate.BrowseQuery
	if err == nil {
		q, err = parseBrowse(p, v)
	}
	if err == nil {
		var pg annotate.BrowsePage
		if pg, err = b.Browse(r.Context(), p.ID, q); err == nil {
			data.Rows, data.ShowBlock = pg.Rows, q.ShowBlock
			if pg.Next != nil {
				data.Next = browseURL(p.Slug, v, "cursor", pg.Next.Encode())
			}
			if pg.Prev != nil {
				data.Prev = browseURL(p.Slug, v, "cursor", pg.Prev.Encode())
			}
		}
	}
	if err != nil {
		if loupe.ErrorCode(err) != loupe.EINVALID {
			s.error(w, r, err)
			return
		}
		data.Error, status = loupe.ErrorMessage(err), http.StatusBadRequest
	}
	s.render(w, r, status, "browse", data)
}

// browseRowJSON is a row of the data browser in the items API.
type browseRowJSON struct {
	ID         string          `json:"id"`
	ExternalID string          `json:"external_id,omitempty"`
	Seq        int64           `json:"seq"`
	Preview    string          `json:"preview"`
	State      string          `json:"state"`
	Labelers   []string        `json:"labelers"`
	Block      string          `json:"block,omitempty"`
	Value      json.RawMessage `json:"value,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	ChangedAt  time.Time       `json:"changed_at"`
}

// apiBrowse answers the items API with the data browser's filters, sorts
// and cursors.
func (s *Server) apiBrowse(w http.ResponseWriter, r *http.Request, p *annotate.Project) {
	b := s.store
	q, err := parseBrowse(p, r.URL.Query())
	var pg annotate.BrowsePage
	if err == nil {
		pg, err = b.Browse(r.Context(), p.ID, q)
	}
	if loupe.ErrorCode(err) == loupe.EINVALID {
		// A parameter the browser does not take is a bad request, not
		// content it could not process.
		badRequest(w, err)
		return
	} else if err != nil {
		s.error(w, r, err)
		return
	}
	in := p.Config.Interface()
	out := make([]browseRowJSON, len(pg.Rows))
	for i, row := range pg.Rows {
		out[i] = browseRowJSON{ID: row.Item.ID, ExternalID: row.Item.ExternalID, Seq: row.Item.Seq, Preview: itemPreview(in, row.Item),
			State: row.State, Labelers: row.Labelers, CreatedAt: row.Item.CreatedAt, ChangedAt: row.ChangedAt}
		if out[i].Labelers == nil {
			out[i].Labelers = []string{}
		}
		if row.Value != nil {
			out[i].Block, out[i].Value = q.ShowBlock, row.Value
		}
	}
	res := map[string]any{"items": out}
	if pg.Next != nil {
		res["next_cursor"] = pg.Next.Encode()
	}
	if pg.Prev != nil {
		res["prev_cursor"] = pg.Prev.Encode()
	}
	writeJSON(w, http.StatusOK, res)
}
