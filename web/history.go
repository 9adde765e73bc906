package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/export"
	"github.com/loupehq/loupe/feedback"
)

// summary says in a line what an event did, for the timeline and the audit
// log; the payload itself is one click away.
func summary(ev *feedback.Event) string {
	var p map[string]json.RawMessage
	json.Unmarshal(ev.Payload, &p)
	str := func(k string) string {
		var s string
		if json.Unmarshal(p[k], &s) == nil {
			return s
		}
		return strings.TrimSpace(string(p[k]))
	}
	quoted := func(k string) string {
		if c := str(k); c != "" {
			return " “" + c + "”"
		}
		return ""
	}
	switch ev.Kind {
	case feedback.KindProjectCreated:
		return "created the project " + str("slug")
	case feedback.KindConfigChanged:
		return "saved config version " + str("version")
	case feedback.KindMemberAdded:
		return "added " + str("user") + " as " + str("role")
	case feedback.KindMemberRoleChanged:
		return "made " + str("user") + " a " + str("role") + " (was " + str("previous_role") + ")"
	case feedback.KindMemberRemoved:
		return "removed " + str("user") + " (" + str("role") + ")"
	case feedback.KindItemsImported:
		return "imported " + str("added") + " items (" + str("unchanged") + " already there, " + str("predictions") + " predictions)"
	case feedback.KindPredictionsImported:
		return "imported " + str("predictions") + " predictions for " + str("items") + " items"
	case feedback.KindAnnotationCreated:
		return fmt.Sprintf("annotated (version %d)", ev.AnnotationVersion)
	case feedback.KindAnnotationEdited:
		if str("fixes_review") != "" {
			return fmt.Sprintf("fixed the answer sent back (version %d)", ev.AnnotationVersion)
		}
		return fmt.Sprintf("edited the answer (version %d)", ev.AnnotationVersion)
	case feedback.KindItemSkipped:
		return "skipped the item"
	case feedback.KindFeedback:
		if str("source") == "api" {
			out := "sent feedback on " + str("model")
			if v := str("version"); v != "" {
				out += " " + v
			}
			if r := str("rating"); r != "" {
				out += ": rating " + r
			}
			if _, ok := p["correction"]; ok {
				out += ", with a correction"
			}
			return out + quoted("comment")
		}
		return str("type") + " " + ev.Block + ": " + str("value")
	case feedback.KindReviewQueued:
		return "sent to review: " + str("reason")
	case feedback.KindReviewApproved:
		return "approved" + quoted("comment")
	case feedback.KindReviewRejected:
		return "sent " + str("labeler") + "’s answer back" + quoted("comment")
	case feedback.KindReviewFixed:
		return fmt.Sprintf("fixed %s’s answer (version %d)", str("labeler"), ev.AnnotationVersion) + quoted("comment")
	case feedback.KindReviewAdjudicated:
		return "set the final answer" + quoted("comment")
	case feedback.KindExportMade:
		return "exported " + str("records") + " " + str("what") + " (" + str("format") + ")"
	case feedback.KindUserCreated:
		return "created user " + str("user") + " (" + str("role") + ")"
	case feedback.KindUserDisabled:
		return "disabled user " + str("user")
	case feedback.KindUserEnabled:
		return "enabled user " + str("user")
	case feedback.KindPasswordChanged:
		return "changed the password of " + str("user")
	case feedback.KindTokenCreated:
		return "created an API token for " + str("user")
	}
	return ev.Kind
}

// timelineEntry is one line of an item's history.
type timelineEntry struct {
	At      time.Time
	Class   string // import, prediction, version, feedback, review, queue, other
	Who     string
	What    string
	Values  []blockValue      // a first version's values, a prediction's value
	Changes []feedback.Change // an edit's changes
	Hash    string            // the event's hash, when the entry is an event
}

type blockValue struct {
	Block string
	Value string
}

type timelinePage struct {
	page
	Project *annotate.Project
	Item    *annotate.Item
	Task    *feedback.ReviewTask
	Entries []timelineEntry
}

// timeline puts an item's history in order: its arrival, every prediction,
// every annotation version (with what changed from the version before),
// and every event about it that is not a version (feedback, reviews,
// skips, moves to review).
func timeline(in *blocks.Interface, it *annotate.Item, origin string, preds []annotate.Prediction, versions []*annotate.Annotation, events []*feedback.Event) []timelineEntry {
	arrived := "imported"
	if origin == "feedback" {
		arrived = "arrived through the feedback API"
	}
	out := []timelineEntry{{At: it.CreatedAt, Class: "import", Who: "", What: arrived}}
	for _, p := range preds {
		what := "model " + p.Model
		if p.ModelVersion != "" {
			what += " " + p.ModelVersion
		}
		what += " predicted " + p.Block
		if p.Score != nil {
			what += fmt.Sprintf(" (score %.2f)", *p.Score)
		}
		if p.Source != "" {
			what += " · " + p.Source
		}
		out = append(out, timelineEntry{At: p.CreatedAt, Class: "prediction", What: what, Values: valuesOf(in, map[string]json.RawMessage{p.Block: p.Value})})
	}
	prev := map[string]map[string]json.RawMessage{}
	for _, v := range versions {
		e := timelineEntry{At: v.UpdatedAt, Class: "version", Who: v.UserName}
		before, edit := prev[v.ID]
		switch {
		case v.AuthorName != "":
			e.Who, e.What = v.AuthorName, fmt.Sprintf("fixed %s’s answer (version %d)", v.UserName, v.Version)
		case edit:
			e.What = fmt.Sprintf("edited the answer (version %d)", v.Version)
		default:
			e.What = fmt.Sprintf("annotated (version %d)", v.Version)
		}
		if edit {
			e.Changes = readableChanges(in, feedback.Diff(before, v.Values))
		} else {
			e.Values = valuesOf(in, v.Values)
		}
		prev[v.ID] = v.Values
		out = append(out, e)
	}
	for _, ev := range events {
		class := "other"
		switch {
		case ev.Kind == feedback.KindAnnotationCreated || ev.Kind == feedback.KindAnnotationEdited || ev.Kind == feedback.KindReviewFixed && ev.Payload != nil && !strings.Contains(string(ev.Payload), `"comment"`):
			continue // the version entry tells it
		case ev.Kind == feedback.KindFeedback:
			class = "feedback"
		case ev.Kind == feedback.KindReviewQueued:
			class = "queue"
		case strings.HasPrefix(ev.Kind, "review."):
			class = "review"
		}
		out = append(out, timelineEntry{At: ev.At, Class: class, Who: ev.ActorName, What: summary(ev), Hash: ev.Hash})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// readableChanges writes each change's values for people, as the
// answers table does; list elements that are strings lose their quotes.
func readableChanges(in *blocks.Interface, cs []feedback.Change) []feedback.Change {
	for i := range cs {
		c := &cs[i]
		if v, ok := in.Valuer(c.Block); ok {
			if c.Before != "" {
				c.Before = readable(v, json.RawMessage(c.Before))
			}
			if c.After != "" {
				c.After = readable(v, json.RawMessage(c.After))
			}
		}
		for _, list := range [][]string{c.Gone, c.New} {
			for j, el := range list {
				var s string
				if json.Unmarshal([]byte(el), &s) == nil {
					list[j] = s
				}
			}
		}
	}
	return cs
}

// valuesOf lists values readably, in the interface's block order.
func valuesOf(in *blocks.Interface, vals map[string]json.RawMessage) []blockValue {
	var out []blockValue
	for _, v := range in.Valuers() {
		if raw, ok := vals[v.Common().Name]; ok {
			out = append(out, blockValue{Block: v.Common().Name, Value: readable(v, raw)})
		}
	}
	return out
}

func (s *Server) timelinePage(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseHistory)
	if !ok {
		return
	}
	task, versions, events, err := s.itemHistory(r, p)
	if err != nil {
		s.error(w, r, err)
		return
	}
	data := &timelinePage{page: page{Title: "History · " + p.Title}, Project: p, Item: task.Item, Task: task,
		Entries: timeline(p.Config.Interface(), task.Item, task.Origin, task.Predictions, versions, events)}
	s.render(w, r, http.StatusOK, "timeline", data)
}

const refuseHistory = "only the project's reviewers and managers may read its history"

// itemHistory loads everything an item's timeline shows.
func (s *Server) itemHistory(r *http.Request, p *annotate.Project) (*feedback.ReviewTask, []*annotate.Annotation, []*feedback.Event, error) {
	task, err := s.store.ReviewTask(r.Context(), p, urlParam(r, "id"))
	if err != nil {
		return nil, nil, nil, err
	}
	versions, err := s.store.ItemVersions(r.Context(), task.Item.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	events, err := s.store.ItemEvents(r.Context(), task.Item.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	return task, versions, events, nil
}

func (s *Server) apiTimeline(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseHistory)
	if !ok {
		return
	}
	task, versions, events, err := s.itemHistory(r, p)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vs := make([]*annotationJSON, len(versions))
	for i, v := range versions {
		vs[i] = toAnnotationJSON(v)
	}
	if events == nil {
		events = []*feedback.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"item": itemJSON{ID: task.Item.ID, ExternalID: task.Item.ExternalID, Data: task.Item.Data},
		"state": task.State, "origin": task.Origin, "created_at": task.Item.CreatedAt, "final": task.Final,
		"predictions": toPredictionsJSON(task.Predictions), "versions": vs, "events": events})
}

// auditFilter reads the audit log's filters from a query string. Dates
// are days (YYYY-MM-DD, UTC; "to" takes in the whole day) or RFC 3339
// times.
func auditFilter(p *annotate.Project, q url.Values) (feedback.EventFilter, error) {
	f := feedback.EventFilter{Chain: p.ID, Actor: strings.TrimSpace(q.Get("user")), Kind: q.Get("kind"), Block: q.Get("block"), ItemID: q.Get("item")}
	if f.Kind != "" && !slices.Contains(feedback.Kinds, f.Kind) {
		return f, loupe.FieldErrorf("kind", "kind %q is unknown; use one of %s", f.Kind, strings.Join(feedback.Kinds, ", "))
	}
	var err error
	if f.From, err = parseDay(q.Get("from"), "from", false); err != nil {
		return f, err
	}
	if f.To, err = parseDay(q.Get("to"), "to", true); err != nil {
		return f, err
	}
	if b := q.Get("before"); b != "" {
		if f.Before, err = strconv.ParseInt(b, 10, 64); err != nil || f.Before <= 0 {
			return f, loupe.FieldErrorf("before", "before must be a positive event number")
		}
	}
	if l := q.Get("limit"); l != "" {
		if f.Limit, err = strconv.Atoi(l); err != nil || f.Limit <= 0 {
			return f, loupe.FieldErrorf("limit", "limit must be a positive number")
		}
	}
	return f, nil
}

// parseDay reads a day or a time; with end, a day means its end (the
// start of the next day).
func parseDay(s, field string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, loupe.FieldErrorf(field, "%s must be a day (2026-11-24) or a time (2026-11-24T09:00:00Z), got %q", field, s)
}

type auditPage struct {
	page
	Project *annotate.Project
	Events  []*feedback.Event
	Query   url.Values
	Kinds   []string
	Blocks  []string
	Next    string // the next page's URL, "" on the last
	Export  string // the JSONL download of the filtered log
	Error   string
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseHistory)
	if !ok {
		return
	}
	q := r.URL.Query()
	data := &auditPage{page: page{Title: "Audit log · " + p.Title}, Project: p, Query: q, Kinds: feedback.Kinds}
	for _, v := range p.Config.Interface().Valuers() {
		data.Blocks = append(data.Blocks, v.Common().Name)
	}
	f, err := auditFilter(p, q)
	status := http.StatusOK
	if err != nil {
		data.Error, status = loupe.ErrorMessage(err), http.StatusBadRequest
	} else {
		var next int64
		if data.Events, next, err = s.store.Events(r.Context(), f); err != nil {
			s.error(w, r, err)
			return
		}
		filters := url.Values{}
		for _, k := range []string{"user", "kind", "block", "from", "to", "item"} {
			if v := q.Get(k); v != "" {
				filters.Set(k, v)
			}
		}
		if next > 0 {
			nq := url.Values{}
			for k, v := range filters {
				nq[k] = v
			}
			nq.Set("before", strconv.FormatInt(next, 10))
			data.Next = "/projects/" + p.Slug + "/audit?" + nq.Encode()
		}
		data.Export = "/projects/" + p.Slug + "/audit.jsonl"
		if len(filters) > 0 {
			data.Export += "?" + filters.Encode()
		}
	}
	s.render(w, r, status, "audit", data)
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseHistory)
	if !ok {
		return
	}
	f, err := auditFilter(p, r.URL.Query())
	if err != nil {
		s.error(w, r, err)
		return
	}
	events, next, err := s.store.Events(r.Context(), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if events == nil {
		events = []*feedback.Event{}
	}
	out := map[string]any{"events": events}
	if next > 0 {
		out["next_before"] = next
	}
	writeJSON(w, http.StatusOK, out)
}

var jsonlFormat = &export.Format{Name: "jsonl", ContentType: "application/x-ndjson; charset=utf-8", Ext: "jsonl"}

// auditExport streams the project's events as JSONL, oldest first, with
// the audit log's filters. Each line is one event with its hash, so that
// the file can be checked against the chain.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseHistory)
	if !ok {
		return
	}
	f, err := auditFilter(p, r.URL.Query())
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.stream(w, r, p, p.Slug+"-audit", jsonlFormat, map[string]any{"what": "audit", "format": "jsonl"}, func(w io.Writer, flush func()) (int, error) {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		n := 0
		err := s.store.EachEvent(r.Context(), f, func(ev *feedback.Event) error {
			if n++; n%1000 == 0 {
				flush()
			}
			return enc.Encode(ev)
		})
		return n, err
	})
}

type itemsPage struct {
	page
	Project *annotate.Project
	Items   []feedback.ItemStatus
	Counts  map[string]int
	States  []string
	State   string
	Next    string
	Error   string
}

// itemPreview is a line of an item's data for the items list: its first
// text field, cut short.
func itemPreview(in *blocks.Interface, it *annotate.Item) string {
	for _, f := range in.Fields() {
		if s, ok := it.Data[f].(string); ok && s != "" {
			if r := []rune(s); len(r) > 90 {
				return string(r[:90]) + "…"
			}
			return s
		}
	}
	return ""
}

func (s *Server) itemsFilter(r *http.Request) (feedback.ItemsFilter, error) {
	q := r.URL.Query()
	f := feedback.ItemsFilter{State: q.Get("state")}
	if f.State != "" && !slices.Contains(feedback.States, f.State) {
		return f, loupe.FieldErrorf("state", "state %q is unknown; use one of %s", f.State, strings.Join(feedback.States, ", "))
	}
	if a := q.Get("after"); a != "" {
		var err error
		if f.After, err = strconv.ParseInt(a, 10, 64); err != nil || f.After < 0 {
			return f, loupe.FieldErrorf("after", "after must be an item number")
		}
	}
	if l := q.Get("limit"); l != "" {
		var err error
		if f.Limit, err = strconv.Atoi(l); err != nil || f.Limit <= 0 {
			return f, loupe.FieldErrorf("limit", "limit must be a positive number")
		}
	}
	return f, nil
}

func (s *Server) itemsPage(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseHistory)
	if !ok {
		return
	}
	data := &itemsPage{page: page{Title: "Items · " + p.Title}, Project: p, States: feedback.States}
	f, err := s.itemsFilter(r)
	data.State = f.State
	status := http.StatusOK
	if err != nil {
		data.Error, status = loupe.ErrorMessage(err), http.StatusBadRequest
	} else {
		var next int64
		if data.Items, next, err = s.store.Items(r.Context(), p.ID, f); err != nil {
			s.error(w, r, err)
			return
		}
		if next > 0 {
			q := url.Values{"after": {strconv.FormatInt(next, 10)}}
			if f.State != "" {
				q.Set("state", f.State)
			}
			data.Next = "/projects/" + p.Slug + "/items?" + q.Encode()
		}
	}
	if data.Counts, err = s.store.StateCounts(r.Context(), p.ID); err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, status, "items", data)
}

func (s *Server) apiItems(w http.ResponseWriter, r *http.Request) {
	p, _, ok := s.projectFor(w, r, annotate.Access.CanReview, refuseHistory)
	if !ok {
		return
	}
	// Any of the data browser's parameters asks for its filters, sorts
	// and cursors; the older state/after/limit form answers as before.
	if err := queryError(r); err != nil {
		badRequest(w, err)
		return
	}
	if isBrowse(r.URL.Query()) {
		s.apiBrowse(w, r, p)
		return
	}
	f, err := s.itemsFilter(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	items, next, err := s.store.Items(r.Context(), p.ID, f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	type itemStateJSON struct {
		itemJSON
		Seq         int64     `json:"seq"`
		State       string    `json:"state"`
		Reason      string    `json:"reason,omitempty"`
		Origin      string    `json:"origin"`
		Annotations int       `json:"annotations"`
		CreatedAt   time.Time `json:"created_at"`
	}
	out := make([]itemStateJSON, len(items))
	for i, it := range items {
		out[i] = itemStateJSON{itemJSON: itemJSON{ID: it.Item.ID, ExternalID: it.Item.ExternalID, Data: it.Item.Data},
			Seq: it.Item.Seq, State: it.State, Reason: it.Reason, Origin: it.Origin, Annotations: it.Done, CreatedAt: it.Item.CreatedAt}
	}
	res := map[string]any{"items": out}
	if next > 0 {
		res["next_after"] = next
	}
	writeJSON(w, http.StatusOK, res)
}
