package annotate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// Limits of imported annotations.
const (
	MaxAnnotationsPerItem = 1000
	MaxAnnotationUserLen  = 254 // characters of the user an annotation names (an e-mail address at most)
)

// wrapperKeys are the keys of a wrapped item in Loupe's formats: the
// import shape {"data", "id", "predictions"} and the full export record.
// An object with "data" and only these keys is a wrapper; any other key
// makes it a flat item whose fields are all data. The export's state,
// split, reviews, feedback and final are accepted and not imported.
var wrapperKeys = map[string]bool{"data": true, "id": true, "external_id": true, "predictions": true, "annotations": true,
	"state": true, "split": true, "reviews": true, "feedback": true, "final": true}

// Keys of an annotation in Loupe's export record.
var loupeAnnotationKeys = map[string]bool{"id": true, "user": true, "author": true, "version": true, "config_version": true,
	"values": true, "suggestions": true, "lead_ms": true, "created_at": true, "updated_at": true}

// itemFromObject makes an item of a decoded record. A wrapper (see
// wrapperKeys; with task set, any object whose data is an object, as in
// Label Studio's tasks, whatever else it holds) gives its data, external
// id, predictions and annotations; any other object is the data itself.
func itemFromObject(obj map[string]any, line int, task bool) (*ItemRecord, error) {
	rec := &ItemRecord{Line: line, Data: obj}
	d, hasData := obj["data"]
	inner, isObject := d.(map[string]any)
	switch {
	case task && hasData && !isObject:
		return nil, lineErrorf(line, "data must be an object of the item's fields, got %s", describe(d))
	case isObject && (task || isWrapper(obj)):
		rec.Data = inner
		if err := readWrapper(rec, obj, task); err != nil {
			return nil, err
		}
	}
	return sealed(rec)
}

// isWrapper reports whether obj is {"data": {...}} with only the keys of
// Loupe's formats beside it, as opposed to a flat item that happens to
// have a data field.
func isWrapper(obj map[string]any) bool {
	for k := range obj {
		if !wrapperKeys[k] {
			return false
		}
	}
	return true
}

// readWrapper reads the external id, predictions and annotations of a
// wrapped item. The external id is external_id when the key is there (null
// meaning none: Loupe's export writes null for an item without one), else
// id. In a Label Studio task written by Loupe (meta.loupe_item_id set), it
// is meta.external_id, or none: the task's id is only Loupe's sequence.
func readWrapper(rec *ItemRecord, obj map[string]any, task bool) error {
	key, id := "id", obj["id"]
	if _, ok := obj["external_id"]; ok {
		key, id = "external_id", obj["external_id"]
	}
	if meta, ok := obj["meta"].(map[string]any); ok && task && meta["loupe_item_id"] != nil {
		key, id = "meta.external_id", meta["external_id"]
	}
	if id != nil {
		ext, err := externalID(id)
		if err != nil {
			return lineErrorf(rec.Line, "%s: %s", key, err)
		}
		rec.ExternalID = ext
	}
	var err error
	if rec.Predictions, err = parsePredictions(obj["predictions"]); err != nil {
		return lineErrorf(rec.Line, "%s", loupe.ErrorMessage(err))
	}
	if rec.Annotations, err = parseAnnotations(obj["annotations"]); err != nil {
		return lineErrorf(rec.Line, "%s", loupe.ErrorMessage(err))
	}
	return nil
}

// sealed seals rec and returns it, or nil and the error.
func sealed(rec *ItemRecord) (*ItemRecord, error) {
	if err := rec.seal(); err != nil {
		return nil, err
	}
	return rec, nil
}

// seal checks that the item has data and sets its canonical JSON and hash.
func (rec *ItemRecord) seal() error {
	if len(rec.Data) == 0 {
		return lineErrorf(rec.Line, "data is empty")
	}
	b, err := json.Marshal(rec.Data)
	if err != nil {
		return lineErrorf(rec.Line, "data cannot be stored: %v", err)
	}
	rec.DataJSON = b
	sum := sha256.Sum256(b)
	rec.Hash = hex.EncodeToString(sum[:])
	return nil
}

// parseAnnotations reads the annotations of an item, each in Loupe's shape
// (an annotation of its export record: {"user", "values", "created_at",
// …}) or Label Studio's ({"completed_by", "result", "was_cancelled",
// "created_at", …}). Label Studio's cancelled (skipped) annotations are
// left out. It returns an EINVALID error naming the annotation at fault.
func parseAnnotations(x any) ([]AnnotationRecord, error) {
	if x == nil {
		return nil, nil
	}
	list, ok := x.([]any)
	if !ok {
		return nil, predErrorf("annotations must be a list of annotations, got %s", describe(x))
	}
	if len(list) > MaxAnnotationsPerItem {
		return nil, predErrorf("annotations: %d annotations, at most %d allowed per item", len(list), MaxAnnotationsPerItem)
	}
	var out []AnnotationRecord
	for i, a := range list {
		obj, ok := a.(map[string]any)
		if !ok {
			return nil, predErrorf("annotations[%d] must be an object, got %s", i, describe(a))
		}
		_, hasValues := obj["values"]
		_, hasResult := obj["result"]
		var rec AnnotationRecord
		var err error
		switch {
		case hasValues && hasResult:
			err = predErrorf("has both values (Loupe's shape) and result (Label Studio's); give one")
		case hasValues:
			rec, err = parseLoupeAnnotation(obj)
		case hasResult:
			if obj["was_cancelled"] == true {
				continue // skipped in Label Studio: no answer
			}
			rec, err = parseLSAnnotation(obj)
		default:
			err = predErrorf(`needs values (Loupe's shape: {"user", "values": {BLOCK: VALUE}, "created_at"}) or result (Label Studio's: {"completed_by", "result": [...], "created_at"})`)
		}
		if err != nil {
			return nil, predErrorf("annotations[%d]: %s", i, loupe.ErrorMessage(err))
		}
		rec.index = i
		out = append(out, rec)
	}
	return out, nil
}

// parseLoupeAnnotation reads an annotation of Loupe's export record. Only
// user, values and created_at are kept: the import makes a new first
// version.
func parseLoupeAnnotation(obj map[string]any) (AnnotationRecord, error) {
	var a AnnotationRecord
	for _, k := range sortedKeys(obj) {
		if !loupeAnnotationKeys[k] {
			return a, predErrorf("unknown key %q; an annotation in Loupe's shape has user, values and created_at (and the other keys of Loupe's export)", k)
		}
	}
	var err error
	switch u := obj["user"].(type) {
	case nil:
	case string:
		if a.User, err = annotationUser("user", u); err != nil {
			return a, err
		}
	default:
		return a, predErrorf("user must be a string, got %s", describe(u))
	}
	if a.Values, err = blockValues(obj["values"]); err != nil {
		return a, err
	}
	a.CreatedAt, err = timeValue("created_at", obj["created_at"])
	return a, err
}

// parseLSAnnotation reads an annotation of a Label Studio task: its result
// items, who completed it (completed_by, else created_username) and when.
// Label Studio's many bookkeeping keys (id, lead_time, ground_truth, task,
// project, …) are accepted and not kept. An annotation that Loupe wrote
// carries a "loupe" object with its user and its values as Loupe stored
// them, which Label Studio's results cannot always say (a flag's note, a
// pairwise tie): those are read instead of the results.
func parseLSAnnotation(obj map[string]any) (AnnotationRecord, error) {
	if l, ok := obj["loupe"].(map[string]any); ok {
		a, err := parseLoupeAnnotation(l)
		if err != nil {
			return a, predErrorf("loupe: %s", loupe.ErrorMessage(err))
		}
		if a.CreatedAt.IsZero() {
			a.CreatedAt, err = timeValue("created_at", obj["created_at"])
		}
		return a, err
	}
	var a AnnotationRecord
	list, ok := obj["result"].([]any)
	if !ok {
		return a, predErrorf("result must be a list of Label Studio result items, got %s", describe(obj["result"]))
	}
	a.LSResults = make([]blocks.LSResult, len(list))
	for j, x := range list {
		r, err := parseLSResult(x)
		if err != nil {
			return a, predErrorf("result[%d]: %s", j, loupe.ErrorMessage(err))
		}
		a.LSResults[j] = r
	}
	var err error
	if a.User, err = lsUser(obj["completed_by"]); err != nil {
		return a, err
	}
	if name, ok := obj["created_username"].(string); ok && a.User == "" {
		// Label Studio writes "email, id"; Loupe's user names hold no comma.
		name, _, _ = strings.Cut(name, ",")
		if a.User, err = annotationUser("created_username", strings.TrimSpace(name)); err != nil {
			return a, err
		}
	}
	a.CreatedAt, err = timeValue("created_at", obj["created_at"])
	return a, err
}

// lsUser reads completed_by: a user id, or (in some exports) an object with
// the user's email and id. The email is preferred; an id is kept as its
// digits.
func lsUser(x any) (string, error) {
	switch u := x.(type) {
	case nil:
		return "", nil
	case string:
		return annotationUser("completed_by", u)
	case json.Number:
		if _, err := strconv.ParseInt(string(u), 10, 64); err != nil {
			return "", predErrorf("completed_by must be a whole number (a user id), got %s", u)
		}
		return string(u), nil
	case map[string]any:
		if e, ok := u["email"].(string); ok && e != "" {
			return annotationUser("completed_by.email", e)
		}
		if id, ok := u["id"]; ok {
			return lsUser(id)
		}
	}
	return "", predErrorf("completed_by must be a user id or an object with the user's email, got %s", describe(x))
}

// annotationUser checks the name of an annotation's user.
func annotationUser(key, s string) (string, error) {
	switch {
	case utf8.RuneCountInString(s) > MaxAnnotationUserLen:
		return "", predErrorf("%s is longer than %d characters", key, MaxAnnotationUserLen)
	case strings.ContainsFunc(s, unicode.IsControl):
		return "", predErrorf("%s holds a control character", key)
	}
	return s, nil
}

// timeValue reads an optional RFC 3339 time.
func timeValue(key string, x any) (time.Time, error) {
	switch v := x.(type) {
	case nil:
		return time.Time{}, nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, predErrorf("%s must be a time such as \"2026-01-02T15:04:05Z\", got %s", key, describe(v))
		}
		return t.UTC(), nil
	}
	return time.Time{}, predErrorf("%s must be a time such as \"2026-01-02T15:04:05Z\", got %s", key, describe(x))
}

// ResolveAnnotations checks the item's annotations against a project's
// interface and the item's data, as a labeler's submission is checked:
// Label Studio results are mapped to values through the interface (by
// from_name) and cleared, and every annotation's values must pass
// Interface.ValidateValues, which replaces them with their canonical form.
// It returns an EINVALID error whose message starts with "line N:
// annotations[I]" (I counting the annotations as the file lists them).
func (rec *ItemRecord) ResolveAnnotations(in *blocks.Interface) error {
	for i := range rec.Annotations {
		a := &rec.Annotations[i]
		where := fmt.Sprintf("annotations[%d]", a.index)
		if a.User != "" {
			where += fmt.Sprintf(" (user %q)", a.User)
		}
		vals := a.Values
		if a.LSResults != nil {
			v, err := in.FromLabelStudio(a.LSResults, rec.Data)
			if err != nil {
				return lineErrorf(rec.Line, "%s: %s", where, loupe.ErrorMessage(err))
			}
			vals = v
		}
		canon, err := in.ValidateValues(vals, rec.Data)
		if err != nil {
			msg := loupe.ErrorMessage(err)
			if f := loupe.ErrorField(err); f != "" {
				msg = f + ": " + msg
			}
			return lineErrorf(rec.Line, "%s: %s", where, msg)
		}
		a.Values, a.LSResults = canon, nil
	}
	return nil
}

// Resolve checks an imported item against a project's interface: its data
// holds every field the interface reads (Interface.CheckData), and its
// predictions and annotations pass ResolvePredictions and
// ResolveAnnotations. It returns an EINVALID error whose message starts
// with "line N:".
func (rec *ItemRecord) Resolve(in *blocks.Interface) error {
	if err := in.CheckData(rec.Data); err != nil {
		return lineErrorf(rec.Line, "%s", loupe.ErrorMessage(err))
	}
	if err := rec.ResolvePredictions(in); err != nil {
		return err
	}
	return rec.ResolveAnnotations(in)
}
