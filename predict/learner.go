package predict

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/learn"
)

// learner is the builtin model of one block of one project: a classifier
// (choice, multichoice) or a span suggester (spans), the annotation
// versions it has learned (up to upto), and when it was last saved.
type learner struct {
	projectID     string
	model         string
	block         string
	configVersion int
	kind          string
	fields        []string          // item fields whose text the classifier reads
	inputs        map[string]string // item field → block whose value replaces it
	spansField    string            // the text a spans block labels

	clf   *learn.Classifier
	spans *learn.SpanSuggester

	mu        sync.Mutex
	loaded    bool
	upto      string
	examples  int
	unsaved   int
	savedAt   time.Time
	checkedAt time.Time
}

func newLearner(p *annotate.Project, mc blocks.ModelConfig, block string) (*learner, error) {
	v, ok := p.Config.Interface().Valuer(block)
	if !ok {
		return nil, fmt.Errorf("no block %q", block)
	}
	l := &learner{projectID: p.ID, model: mc.Name, block: block, configVersion: p.ConfigVersion,
		kind: v.Common().Type, fields: mc.Fields, inputs: mc.Inputs}
	switch b := v.(type) {
	case *blocks.Choice:
		l.clf = learn.NewClassifier(optionValues(b.Options), false)
	case *blocks.MultiChoice:
		l.clf = learn.NewClassifier(optionValues(b.Options), true)
	case *blocks.Spans:
		l.spans = learn.NewSpanSuggester(optionValues(b.Labels))
		l.spansField = b.Field
	default:
		return nil, fmt.Errorf("the builtin learner cannot fill a %s block", l.kind)
	}
	return l, nil
}

func optionValues(os blocks.Options) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.Value
	}
	return out
}

// text is what the classifier reads of an item: its fields' text, one a
// line, with block values standing in for the fields inputs names.
func (l *learner) text(data map[string]any, inputs map[string]json.RawMessage) string {
	var parts []string
	for _, f := range l.fields {
		parts = append(parts, l.field(data, f, inputs))
	}
	return strings.Join(parts, "\n")
}

func (l *learner) field(data map[string]any, f string, inputs map[string]json.RawMessage) string {
	if b, ok := l.inputs[f]; ok && inputs != nil {
		var s string
		if json.Unmarshal(inputs[b], &s) == nil && s != "" {
			return s
		}
	}
	return blocks.FieldText(data, f)
}

// version names the learner's state for provenance: how many annotations
// it has learned.
func (l *learner) version() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return "n" + strconv.Itoa(l.examples)
}

func (l *learner) examplesNow() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.examples
}

// markStale makes the next catch-up read the store at once.
func (l *learner) markStale() {
	l.mu.Lock()
	l.checkedAt = time.Time{}
	l.mu.Unlock()
}

// catchUp loads the snapshot on first use, then learns the annotation
// versions made since, unless it looked less than catchUpEvery ago.
func (l *learner) catchUp(ctx context.Context, store Store, now time.Time, force bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.loaded {
		st, err := store.LoadLearner(ctx, l.projectID, l.model, l.block)
		switch {
		case err == nil && st.ConfigVersion == l.configVersion:
			if err := l.restore(st.State); err == nil {
				l.upto, l.examples = st.Upto, st.Examples
			}
		case err != nil && loupe.ErrorCode(err) != loupe.ENOTFOUND:
			return err
		}
		// Another config version, or no usable snapshot: learn everything
		// again from the annotations, which are the truth.
		l.loaded = true
	}
	if !force && now.Sub(l.checkedAt) < catchUpEvery {
		return nil
	}
	l.checkedAt = now
	for {
		changes, err := store.VersionsAfter(ctx, l.projectID, l.upto, learnBatch)
		if err != nil {
			return err
		}
		for _, c := range changes {
			l.apply(c)
			l.upto = c.Position
		}
		if len(changes) < learnBatch {
			return nil
		}
	}
}

func (l *learner) restore(state []byte) error {
	if l.clf != nil {
		return l.clf.UnmarshalBinary(state)
	}
	return l.spans.UnmarshalBinary(state)
}

// apply learns one annotation version: the version it replaced is
// unlearned first, so that an edit counts once.
func (l *learner) apply(c annotate.VersionChange) {
	prev, had := c.Previous[l.block]
	cur, has := c.Values[l.block]
	if l.clf != nil {
		text := l.text(c.Data, nil)
		if had {
			if labels := labelsOf(prev); len(labels) > 0 && l.clf.Unlearn(text, labels) == nil {
				l.examples--
			}
		}
		if has {
			if labels := labelsOf(cur); len(labels) > 0 {
				l.clf.Learn(text, labels)
				l.examples++
			}
		}
	} else {
		text := blocks.FieldText(c.Data, l.spansField)
		if had {
			if sp := spansOf(prev); sp != nil && l.spans.Unlearn(text, sp) == nil {
				l.examples--
			}
		}
		if has {
			if sp := spansOf(cur); sp != nil {
				l.spans.Learn(text, sp)
				l.examples++
			}
		}
	}
	if had || has {
		l.unsaved++
	}
}

// labelsOf reads a choice ("a") or multichoice (["a", "b"]) value.
func labelsOf(v json.RawMessage) []string {
	var one string
	if json.Unmarshal(v, &one) == nil {
		return []string{one}
	}
	var many []string
	json.Unmarshal(v, &many)
	return many
}

func spansOf(v json.RawMessage) []learn.Span {
	var sp []learn.Span
	if json.Unmarshal(v, &sp) != nil {
		return nil
	}
	return sp
}

// save stores a snapshot when enough was learned since the last one, or
// always with force.
func (l *learner) save(ctx context.Context, store Store, force bool) error {
	l.mu.Lock()
	if l.unsaved == 0 || !force && l.unsaved < saveEvery && time.Since(l.savedAt) < saveAfter {
		l.mu.Unlock()
		return nil
	}
	var state []byte
	var err error
	if l.clf != nil {
		state, err = l.clf.MarshalBinary()
	} else {
		state, err = l.spans.MarshalBinary()
	}
	st := &annotate.LearnerState{ProjectID: l.projectID, Model: l.model, Block: l.block, ConfigVersion: l.configVersion,
		State: state, Upto: l.upto, Examples: l.examples}
	l.unsaved, l.savedAt = 0, time.Now()
	l.mu.Unlock()
	if err != nil {
		return err
	}
	return store.SaveLearner(ctx, st)
}

// suggest predicts the block's value for an item; false when the learner
// has learned nothing yet or has nothing to say.
func (l *learner) suggest(data map[string]any, inputs map[string]json.RawMessage) (annotate.Suggestion, bool) {
	l.mu.Lock()
	n := l.examples
	l.mu.Unlock()
	if n == 0 {
		return annotate.Suggestion{}, false
	}
	sg := annotate.Suggestion{Block: l.block, Model: l.model, Version: "n" + strconv.Itoa(n)}
	var value any
	var score float64
	switch {
	case l.clf != nil && !l.clf.Multi():
		top := l.clf.Predict(l.text(data, inputs))
		if len(top) == 0 {
			return sg, false
		}
		value, score = top[0].Label, top[0].P
	case l.clf != nil:
		var picked []string
		conf := 1.0
		for _, sc := range l.clf.Predict(l.text(data, inputs)) {
			if sc.P >= 0.5 {
				picked = append(picked, sc.Label)
			}
			conf = min(conf, max(sc.P, 1-sc.P))
		}
		if len(picked) == 0 {
			return sg, false
		}
		value, score = picked, conf
	default:
		found := l.spans.Suggest(l.field(data, l.spansField, inputs))
		if len(found) == 0 {
			return sg, false
		}
		sum := 0.0
		for i := range found {
			sum += found[i].Score
			found[i].Score = 0 // the value holds spans, not their scores
		}
		value, score = found, sum/float64(len(found))
	}
	b, err := json.Marshal(value)
	if err != nil {
		return sg, false
	}
	sg.Value, sg.Score = b, &score
	return sg, true
}

// margin is how sure the learner is about an item, for the uncertainty
// order: the gap between its top two labels (1 when it knows nothing to
// compare). ok is false when it has learned nothing.
func (l *learner) margin(data map[string]any) (float64, bool) {
	if l.clf == nil || l.examplesNow() == 0 {
		return 0, false
	}
	return l.clf.Margin(l.text(data, nil)), true
}

// top is the learner's first label for an item, for disagreement.
func (l *learner) top(data map[string]any) (string, bool) {
	if l.clf == nil || l.examplesNow() == 0 {
		return "", false
	}
	sg, ok := l.suggest(data, nil)
	return string(sg.Value), ok
}

// canonical re-encodes a JSON value so that equal values compare equal.
func canonical(v json.RawMessage) string {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return string(v)
	}
	b, _ := json.Marshal(x)
	return string(b)
}
