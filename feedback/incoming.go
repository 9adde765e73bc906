package feedback

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

// Incoming is feedback a model demo or a product sends through the
// feedback API: what the model was given (Input, the item's data), what it
// answered (Output, block → value, like a prediction), and what its user
// thought of it: a Rating for the project's thumbs or rating block, a
// Correction (block → value), a Comment.
type Incoming struct {
	ID         string                     `json:"id,omitempty"` // the item's external id, optional
	Input      json.RawMessage            `json:"input"`
	Output     map[string]json.RawMessage `json:"output"`
	Model      string                     `json:"model"`
	Version    string                     `json:"version"`
	Score      *float64                   `json:"score,omitempty"`
	Rating     json.RawMessage            `json:"rating,omitempty"`
	Correction map[string]json.RawMessage `json:"correction,omitempty"`
	Comment    string                     `json:"comment,omitempty"`

	// Set by Resolve.
	Item        *annotate.ItemRecord `json:"-"`
	RatingBlock string               `json:"-"`
}

// Received is what the feedback API did with an Incoming.
type Received struct {
	ItemID      string            `json:"item_id"`
	NewItem     bool              `json:"new_item"`
	Predictions map[string]string `json:"predictions"` // block → prediction id
	EventID     string            `json:"event_id"`
	State       string            `json:"state"`
}

// Resolve checks the feedback against the project's interface: the input
// must carry every field the interface shows, every block named in the
// output or the correction must exist and accept the value, the rating
// must suit the project's first thumbs block (or, without one, its first
// rating block). Values are replaced by their canonical form. It returns
// EINVALID naming the field ("output.answer", "rating", …).
func (in *Incoming) Resolve(iface *blocks.Interface) error {
	if len(bytes.TrimSpace(in.Input)) == 0 || bytes.TrimSpace(in.Input)[0] != '{' {
		return loupe.FieldErrorf("input", "input must be an object: the item's data, field by field")
	}
	line, err := json.Marshal(map[string]any{"data": in.Input})
	if err != nil {
		return loupe.FieldErrorf("input", "input cannot be read: %v", err)
	}
	if in.ID != "" {
		line, _ = json.Marshal(map[string]any{"data": in.Input, "id": in.ID})
	}
	rec, err := annotate.ParseItemLine(line, 1)
	if err != nil {
		return loupe.FieldErrorf("input", "%s", strings.TrimPrefix(loupe.ErrorMessage(err), "line 1: "))
	}
	if err := iface.CheckData(rec.Data); err != nil {
		return loupe.FieldErrorf("input", "%s", loupe.ErrorMessage(err))
	}
	in.Item = rec
	if err := modelName("model", in.Model, true); err != nil {
		return err
	}
	if err := modelName("version", in.Version, false); err != nil {
		return err
	}
	if in.Score != nil && (*in.Score < 0 || *in.Score > 1) {
		return loupe.FieldErrorf("score", "score must be between 0 and 1, got %g", *in.Score)
	}
	if len(in.Output) == 0 {
		return loupe.FieldErrorf("output", "output is required: the model's answer, block by block ({\"BLOCK\": value})")
	}
	if in.Output, err = blockValues(iface, "output", in.Output, rec.Data); err != nil {
		return err
	}
	if len(in.Correction) > 0 {
		if in.Correction, err = blockValues(iface, "correction", in.Correction, rec.Data); err != nil {
			return err
		}
	}
	if len(in.Rating) > 0 && string(in.Rating) != "null" {
		v := ratingBlock(iface)
		if v == nil {
			return loupe.FieldErrorf("rating", "this project has no thumbs or rating block to take a rating")
		}
		canon, err := v.ValidateValue(in.Rating, rec.Data)
		if err != nil {
			return loupe.FieldErrorf("rating", "block %q: %s", v.Common().Name, loupe.ErrorMessage(err))
		}
		in.Rating, in.RatingBlock = canon, v.Common().Name
	} else {
		in.Rating = nil
	}
	if utf8.RuneCountInString(in.Comment) > MaxComment {
		return loupe.FieldErrorf("comment", "the comment is longer than %d characters", MaxComment)
	}
	return nil
}

// OutputHash identifies the model's output for one block, so that the same
// answer sent twice is one prediction and a different answer to the same
// input is another.
func OutputHash(value json.RawMessage) string {
	sum := sha256.Sum256([]byte(canonical(value)))
	return "output:" + hex.EncodeToString(sum[:8])
}

// Blocks returns the output's block names, sorted.
func (in *Incoming) Blocks() []string {
	names := make([]string, 0, len(in.Output))
	for k := range in.Output {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// blockValues validates a block → value map against the interface.
func blockValues(iface *blocks.Interface, field string, vals map[string]json.RawMessage, data map[string]any) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(vals))
	for name, raw := range vals {
		v, ok := iface.Valuer(name)
		if !ok {
			var names []string
			for _, v := range iface.Valuers() {
				names = append(names, v.Common().Name)
			}
			return nil, loupe.FieldErrorf(field+"."+name, "no block is named %q; blocks with values: %s", name, strings.Join(names, ", "))
		}
		canon, err := v.ValidateValue(raw, data)
		if err != nil {
			return nil, loupe.FieldErrorf(field+"."+name, "block %q: %s", name, loupe.ErrorMessage(err))
		}
		out[name] = canon
	}
	return out, nil
}

// ratingBlock is the block a rating goes to: the first thumbs block, or the
// first rating block.
func ratingBlock(iface *blocks.Interface) blocks.Valuer {
	for _, kind := range []string{"thumbs", "rating"} {
		for _, v := range iface.Valuers() {
			if v.Common().Type == kind {
				return v
			}
		}
	}
	return nil
}

func modelName(field, s string, required bool) error {
	switch {
	case s == "" && required:
		return loupe.FieldErrorf(field, "%s is required: name the model that answered", field)
	case utf8.RuneCountInString(s) > annotate.MaxModelLen:
		return loupe.FieldErrorf(field, "%s is longer than %d characters", field, annotate.MaxModelLen)
	case strings.ContainsFunc(s, unicode.IsControl):
		return loupe.FieldErrorf(field, "%s holds a control character", field)
	}
	return nil
}
